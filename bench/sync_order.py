"""Reads an `strace -f -y -x -s 8` trace of `switchboard route` with a SQLite state (see
bench/sync-order.sh) and checks that every batch written to stdout was synced first: at the
Nth write to fd 1, at least N WAL commit frames were written before the start of a WAL
`fsync` that had ended. A commit frame is a 24-byte frame header whose bytes 4 to 7 (the
database size after the commit) are not zero. Exits 1 when a batch was printed too early."""
import codecs
import re
import sys

commits_written = 0  # commit frames whose write has returned
synced = 0  # commit frames covered by a WAL fsync that has returned
started = {}  # thread -> commits written when its unfinished fsync started
pending_commit = {}  # thread -> whether its unfinished frame-header write is a commit's
printed = 0
early = []
for line in open(sys.argv[1], encoding="latin-1"):
    match = re.match(r"(\d+) (.*)", line)
    if not match:
        continue
    thread, call = match.groups()
    if call.startswith("fsync(") and "-wal>" in call:
        if "<unfinished" in call:
            started[thread] = commits_written
        else:  # started after the line before, and ended here
            synced = max(synced, commits_written)
    elif call.startswith("<... fsync resumed>"):
        if thread in started:
            synced = max(synced, started.pop(thread))
    elif call.startswith("pwrite64(") and "-wal>" in call and ", 24, " in call:
        data = re.search(r'"((?:[^"\\]|\\.)*)"', call).group(1)
        header = codecs.decode(data, "unicode_escape").encode("latin-1")
        commit = len(header) >= 8 and header[4:8] != b"\0\0\0\0"
        if "<unfinished" in call:
            pending_commit[thread] = commit
        elif commit:
            commits_written += 1
    elif call.startswith("<... pwrite64 resumed>"):
        if pending_commit.pop(thread, False):
            commits_written += 1
    elif call.startswith("write(1<"):
        printed += 1
        if synced < printed:
            early.append((printed, synced))
print(
    f"{commits_written} commits written, {printed} batches printed, "
    f"{len(early)} printed before their commit was synced"
    + (f" (first: batch {early[0][0]} with {early[0][1]} commits synced)" if early else "")
)
sys.exit(1 if early else 0)
