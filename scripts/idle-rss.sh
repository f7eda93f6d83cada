#!/usr/bin/env bash
# The server's resident memory at rest (docs/benchmarks.md, "Idle memory"), for each binary
# given: `pfs serve --demo` on a new data directory, read 3 s after its banner (the demo just
# seeded), then a restart on the same directory, read 5 s after it starts.
#
#   scripts/idle-rss.sh target/release/pfs /path/to/other/pfs
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 PFS_BINARY..." >&2; exit 2; }
export PFS_LISTEN=${PFS_LISTEN:-127.0.0.1:18483} PFS_ADMIN_LISTEN=${PFS_ADMIN_LISTEN:-127.0.0.1:18484}
rss() { awk '/^VmRSS/ {printf "%.1f MB", $2 / 1000}' "/proc/$1/status"; }
for bin in "$@"; do
    bin=$(realpath "$bin")
    dir=$(mktemp -d)
    (
        cd "$dir"
        "$bin" serve --demo --log warn >serve.log 2>&1 &
        pid=$!
        for _ in $(seq 150); do grep -qs "patient list" serve.log && break; sleep 0.2; done
        sleep 3
        first=$(rss "$pid")
        kill "$pid"; wait "$pid" 2>/dev/null || true
        "$bin" serve --demo --log warn >>serve.log 2>&1 &
        pid=$!
        sleep 5
        again=$(rss "$pid")
        kill "$pid"; wait "$pid" 2>/dev/null || true
        echo "$bin: first start $first, restart $again"
    )
    rm -rf "$dir"
done
