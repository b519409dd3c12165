#!/usr/bin/env bash
# Idle memory of `pipit serve` the way cross/budget measures its "Idle RSS" line: a fresh data
# folder (init), serve, one GET /.well-known/nodeinfo, 2 s of quiet, then /proc/PID/status and
# the resident part of the binary's mappings (smaps).
#
#   cross/idle_rss.sh BIN [RUNS]      prints VmRSS, RssAnon, resident text, startup ms per run
#   IDLE_DATA=DIR cross/idle_rss.sh BIN   a copy of a prepared data folder instead of a fresh one
#                                         (its own `listen` port), e.g. one like cross/budget's
#   IDLE_EVICT=1 cross/idle_rss.sh BIN    drop BIN's pages from the page cache before each run
#                                         (posix_fadvise DONTNEED on that file only), so it is read
#                                         back by faults as after a reboot. Without it the figure
#                                         depends on how the file entered the page cache: a freshly
#                                         written binary (build.sh, cp, dpkg) sits in larger folios
#                                         and read ~1 MiB more here than the same bytes read back.
set -euo pipefail
BIN=$(readlink -f "$1"); RUNS=${2:-3}
for run in $(seq "$RUNS"); do
    dir=$(mktemp -d /tmp/pipit-idle-XXXXXX)
    if [ -n "${IDLE_DATA:-}" ]; then
        cp -a "$IDLE_DATA/." "$dir/"
        port=$(sed -n 's/^listen = ".*:\([0-9]*\)"/\1/p' "$dir/pipit.toml")
    else
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        "$BIN" init --data "$dir" --url "http://127.0.0.1:$port" --username me --listen "127.0.0.1:$port" --allow-private-addresses >/dev/null
    fi
    sed -i 's/^log = .*/log = "warn"/' "$dir/pipit.toml"
    if [ -n "${IDLE_EVICT:-}" ]; then
        python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$BIN"
    fi
    t0=$(date +%s%N)
    "$BIN" serve --data "$dir" >/dev/null 2>"$dir/stderr" &
    pid=$!
    until curl -sf -o /dev/null "http://127.0.0.1:$port/.well-known/nodeinfo"; do sleep 0.002; done
    t1=$(date +%s%N)
    sleep 2
    rss=$(awk '/^VmRSS:/{print $2}' /proc/$pid/status)
    anon=$(awk '/^RssAnon:/{print $2}' /proc/$pid/status)
    file=$(awk '/^RssFile:/{print $2}' /proc/$pid/status)
    # Resident KiB of the binary's executable mapping and of all its mappings.
    text=$(awk -v b="$BIN" '$0 ~ /^[0-9a-f]+-/ {cur=($6==b && $2 ~ /x/)} cur && /^Rss:/ {s+=$2} END{print s+0}' /proc/$pid/smaps)
    textsz=$(awk -v b="$BIN" '$0 ~ /^[0-9a-f]+-/ {cur=($6==b && $2 ~ /x/)} cur && /^Size:/ {s+=$2} END{print s+0}' /proc/$pid/smaps)
    binall=$(awk -v b="$BIN" '$0 ~ /^[0-9a-f]+-/ {cur=($6==b)} cur && /^Rss:/ {s+=$2} END{print s+0}' /proc/$pid/smaps)
    threads=$(awk '/^Threads:/{print $2}' /proc/$pid/status)
    printf 'VmRSS %5d KiB  RssAnon %5d KiB  RssFile %5d KiB  text %5d/%5d KiB  binary-all %5d KiB  threads %s  startup %d ms\n' \
        "$rss" "$anon" "$file" "$text" "$textsz" "$binall" "$threads" $(( (t1 - t0) / 1000000 ))
    [ -n "${KEEP:-}" ] && { echo "pid $pid dir $dir (KEEP set: left running)"; exit 0; }
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
done
