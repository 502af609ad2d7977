#!/bin/sh
# Tries the Neovim snippets of docs/editors.md against the Switchboard language server, headless.
#
#   editors/neovim/try.sh [NVIM]        (NVIM defaults to `nvim` on PATH)
#
# `switchboard` (whose `switchboard lsp` is the server) must be on PATH. Each ```lua block
# of docs/editors.md that does not `require` a plugin becomes a whole init.lua; each runs on
# examples/routing.route with `intent` misspelt `intnet` in the rule `hot`, on
# examples/routing.route itself and on examples/routing.test.route, and probe.lua prints what
# the server answered. A snippet the Neovim version cannot run prints "client attached: false".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
nvim=${1:-nvim}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp "$repo/examples/routing.route" "$repo/examples/routing.test.route" "$repo/examples/roster.json" "$work/"
sed 's/when intent = high and fit = strong -> pool senior/when intnet = high and fit = strong -> pool senior/' \
  "$repo/examples/routing.route" > "$work/typo.route"
grep -q intnet "$work/typo.route"

# The ```lua blocks of the page, one file each.
awk -v dir="$work" '
  /^```lua/ { n++; file = dir "/snippet-" n ".lua"; inside = 1; next }
  /^```/    { inside = 0; next }
  inside    { print > file }
' "$repo/docs/editors.md"

"$nvim" --version | head -1
cd "$work"
for snippet in snippet-*.lua; do
  if grep -q "require('lspconfig" "$snippet"; then
    echo "=== $snippet: needs nvim-lspconfig, skipped"
    continue
  fi
  echo "=== $snippet: $(head -1 "$snippet")"
  for file in typo.route routing.route routing.test.route; do
    timeout 90 "$nvim" --headless -u "$snippet" "$file" -c "luafile $here/probe.lua" 2>&1 || true
    echo
  done
done
