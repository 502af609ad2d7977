"""Reads an `strace -f -y -x -s 8` trace of `switchboard route` on an existing SQLite state
(see bench/sync-order.sh) and checks that every batch written to stdout was synced first: at
the Nth write to fd 1, at least N WAL commits were written whole before the start of a WAL
`fsync` that had ended. A commit is a frame whose 24-byte header has bytes 4 to 7 (the
database size after the commit) not zero; it is written whole once the same thread's next
write to the WAL (the frame's page) has returned.

    python3 bench/sync_order.py TRACE [--without-printing-syncs]

With `--without-printing-syncs`, the `fsync` calls of the thread that writes stdout are left
out, as if the printing thread printed without syncing: then batches must fail the check.
Exits 0 when no batch was printed early, 1 when one was, 2 when the trace shows nothing to
check (no batch printed, or fewer commits than batches), 3 when it cannot be read."""
import codecs
import re
import sys

sys.excepthook = lambda kind, error, trace: (
    print(f"cannot read the trace: {kind.__name__}: {error}", file=sys.stderr),
    sys.exit(3),
)
lines = [line.rstrip("\n") for line in open(sys.argv[1], encoding="latin-1")]
without_printing_syncs = "--without-printing-syncs" in sys.argv[2:]
calls = [re.match(r"(\d+) (.*)", line) for line in lines]
calls = [call.groups() for call in calls if call]
printing = {thread for thread, call in calls if call.startswith("write(1<")}

commits_written = 0  # commits whose frame (header and page) has been written
synced = 0  # commits covered by a WAL fsync that has returned
started = {}  # thread -> commits written when its unfinished fsync started
header_pending = {}  # thread -> whether its unfinished header write is a commit's
page_pending = {}  # thread -> whether its next WAL page write ends a commit's frame
printed = 0
early = []


def page_written(thread):
    global commits_written
    if page_pending.pop(thread, False):
        commits_written += 1


for thread, call in calls:
    if call.startswith("fsync(") and "-wal>" in call:
        if without_printing_syncs and thread in printing:
            continue
        if "<unfinished" in call:
            started[thread] = commits_written
        else:  # started after the line before, and ended here
            synced = max(synced, commits_written)
    elif call.startswith("<... fsync resumed>"):
        if thread in started:
            synced = max(synced, started.pop(thread))
    elif call.startswith("pwrite64(") and "-wal>" in call:
        size = int(re.search(r'"(?:\.\.\.)?, (\d+), ', call).group(1))
        if size == 24:
            data = re.search(r'"((?:[^"\\]|\\.)*)"', call).group(1)
            header = codecs.decode(data, "unicode_escape").encode("latin-1")
            commit = len(header) >= 8 and header[4:8] != b"\0\0\0\0"
            if "<unfinished" in call:
                header_pending[thread] = commit
            elif commit:
                page_pending[thread] = True
        elif "<unfinished" in call:
            header_pending[thread] = None  # a page: ends a commit's frame when it returns
        else:
            page_written(thread)
    elif call.startswith("<... pwrite64 resumed>"):
        pending = header_pending.pop(thread, False)
        if pending is None:
            page_written(thread)
        elif pending:
            page_pending[thread] = True
    elif call.startswith("write(1<"):
        printed += 1
        if synced < printed:
            early.append((printed, synced))
print(
    f"{commits_written} commits written, {printed} batches printed, "
    f"{len(early)} printed before their commit was synced"
    + (f" (first: batch {early[0][0]} with {early[0][1]} commits synced)" if early else "")
)
if printed == 0 or commits_written < printed:
    print("nothing to check: no batch printed, or fewer commits than batches", file=sys.stderr)
    sys.exit(2)
sys.exit(1 if early else 0)
