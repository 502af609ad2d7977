-- Reports what the Switchboard language server sends Neovim for the open .route file: the
-- client, the diagnostics, completion after `when ` (rule `hot`) and after `intent = ` (rule
-- `hot_weak`), hover on `senior`, quick fixes, code lenses, and running the first lens's command.
-- Used by try.sh; run by hand with
--   nvim --headless -u init.lua FILE.route -c 'luafile probe.lua'
local out = function(...) io.stdout:write(table.concat({ ... }, ' ') .. '\n') end
local buf = vim.api.nvim_get_current_buf()
local get_clients = vim.lsp.get_clients or vim.lsp.get_active_clients
local v = vim.version()
out(string.format('nvim %d.%d.%d', v.major, v.minor, v.patch), 'file=' .. vim.fn.expand('%:t'), 'filetype=' .. vim.bo.filetype)
local attached = vim.wait(10000, function() return #get_clients({ bufnr = buf }) > 0 end, 50)
out('client attached:', tostring(attached))
local client = get_clients({ bufnr = buf })[1]
if not client then os.exit(1) end
out('server:', client.name, vim.inspect(client.config.cmd))
vim.wait(10000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
vim.wait(500)
local diags = vim.diagnostic.get(buf)
out('diagnostics:', #diags)
for _, d in ipairs(diags) do
  out(string.format('  %d:%d-%d:%d severity=%d code=%s %s', d.lnum + 1, d.col + 1, d.end_lnum + 1,
    d.end_col + 1, d.severity, tostring(d.code), (d.message:gsub('\n', ' | '))))
end

local function find(pattern)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    local s, e = line:find(pattern)
    if s then return i - 1, s - 1, e end
  end
end
local uri = vim.uri_from_bufnr(buf)
local function request(method, params)
  local res = vim.lsp.buf_request_sync(buf, method, params, 10000)
  if not res then return nil, 'timeout' end
  for _, r in pairs(res) do return r.result, r.error end
end

-- Completion right after `when ` of the rule `hot`.
local line, _, e = find('^rule hot:%s+when ')
if line then
local items = request('textDocument/completion', { textDocument = { uri = uri }, position = { line = line, character = e } })
items = items and (items.items or items) or {}
local labels = {}
for _, item in ipairs(items) do table.insert(labels, item.label) end
out(string.format('completion at %d:%d (after `when `): %s', line + 1, e + 1, table.concat(labels, ', ')))

end
-- Completion after `intent = ` in a rule.
local l2, _, e2 = find('^rule hot_weak:%s+when intent = ')
if l2 then
local items2 = request('textDocument/completion', { textDocument = { uri = uri }, position = { line = l2, character = e2 } })
items2 = items2 and (items2.items or items2) or {}
labels = {}
for _, item in ipairs(items2) do table.insert(labels, item.label) end
out(string.format('completion at %d:%d (after `intent = `): %s', l2 + 1, e2 + 1, table.concat(labels, ', ')))

end
-- Hover on the pool name `senior` in the rule `hot`.
local l3, s3 = find('pool senior within')
if l3 then
local hover = request('textDocument/hover', { textDocument = { uri = uri }, position = { line = l3, character = s3 + 6 } })
local value = hover and hover.contents and (hover.contents.value or vim.inspect(hover.contents)) or 'nil'
out('hover on `senior`:', (value:gsub('\n', ' | ')))

end
-- Quick fixes at the first diagnostic.
if diags[1] then
  local d = diags[1]
  local actions = request('textDocument/codeAction', {
    textDocument = { uri = uri },
    range = { start = { line = d.lnum, character = d.col }, ['end'] = { line = d.end_lnum, character = d.end_col } },
    context = { diagnostics = { {
      range = { start = { line = d.lnum, character = d.col }, ['end'] = { line = d.end_lnum, character = d.end_col } },
      severity = d.severity, code = d.code, source = d.source, message = d.message,
    } } },
  }) or {}
  for _, a in ipairs(actions) do out('code action:', a.title) end
end

-- Code lenses, and the first "Run test" one executed through the server.
local lenses = request('textDocument/codeLens', { textDocument = { uri = uri } }) or {}
local run, reach = nil, 0
for _, lens in ipairs(lenses) do
  if lens.command and lens.command.command == 'switchboard.runTest' then run = run or lens
  else reach = reach + 1 end
end
out(string.format('code lenses: %d (%d on rules)', #lenses, reach))
if lenses[1] then out('first rule lens:', (function() for _, l in ipairs(lenses) do if l.command.command ~= 'switchboard.runTest' then return l.command.title end end end)() or '-') end
if run then
  local result, err = request('workspace/executeCommand', run.command)
  out('executeCommand', run.command.command, vim.inspect(run.command.arguments[2]), '->',
    (vim.inspect(result or err):gsub('\n%s*', ' ')))
end

-- What the snippet set up for the buffer.
local k = vim.fn.maparg('K', 'n', false, true)
out('omnifunc=' .. vim.bo.omnifunc, 'K=' .. ((k and (k.desc or k.rhs)) or (k and k.callback and 'a Lua function') or 'unmapped'))

-- The client's own lens code: refresh, put the cursor on the first test, run its lens.
vim.lsp.codelens.refresh()
vim.wait(5000, function() return #vim.lsp.codelens.get(buf) > 0 end, 50)
local messages = {}
local show = vim.lsp.handlers['window/showMessage']
vim.lsp.handlers['window/showMessage'] = function(err, result, ctx, config)
  table.insert(messages, result.message)
  return show(err, result, ctx, config)
end
local test_line = find('^test "')
if test_line then
  vim.api.nvim_win_set_cursor(0, { test_line + 1, 0 })
  vim.lsp.codelens.run()
  vim.wait(5000, function() return #messages > 0 end, 50)
  out(string.format('codelens.run on line %d -> %s', test_line + 1, messages[1] or 'no message'))
end

-- Formatting a badly spaced rule added at the end.
vim.api.nvim_buf_set_lines(buf, -1, -1, false, { 'rule   extra:when intent=low->queue    review' })
if vim.lsp.buf.format then
  vim.lsp.buf.format({ timeout_ms = 5000 })
else
  vim.lsp.buf.formatting_sync(nil, 5000)
end
out('formatted: ' .. vim.api.nvim_buf_get_lines(buf, -2, -1, false)[1])
vim.cmd('qa!')
