#!/usr/bin/env bash
# Login flood (issue 13 item 1): N concurrent wrong-password logins, each from its own
# loopback address (127.0.X.Y), against a freshly started Berth with security on; prints the
# server's RSS before, at its peak, and 20 s after, and how long a right login took meanwhile.
# Usage: load-tests/login-flood.sh [path/to/berth] [N]     (default: target/debug/berth, 500)
set -euo pipefail
BERTH=${1:-target/debug/berth}
N=${2:-500}
DIR=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000))
trap 'kill $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
BERTH_SECURITY__ENABLED=true BERTH_SECURITY__INITIAL_ADMIN_PASSWORD=Flood-Admin-1 \
  "$BERTH" serve --listen 127.0.0.1:$PORT --data-dir "$DIR/data" 2>"$DIR/log" &
PID=$!
until grep -q "berth listening" "$DIR/log"; do sleep 0.1; done
rss() { awk '/VmRSS/ {print int($2/1024)}' /proc/$PID/status; }
echo "RSS before: $(rss) MiB"
PEAK=0
( while kill -0 $PID 2>/dev/null; do r=$(rss); [ "$r" -gt "$PEAK" ] && PEAK=$r && echo $PEAK >"$DIR/peak"; sleep 0.05; done ) &
SAMPLER=$!
for i in $(seq 0 $((N - 1))); do
  curl -s -o /dev/null -w '%{http_code}\n' --interface 127.0.$((1 + i / 250)).$((1 + i % 250)) \
    -u "user$i:wrong" "http://127.0.0.1:$PORT/v2/" >>"$DIR/codes" &
done
sleep 0.2
START=$(date +%s.%N)
until [ "$(curl -s -o /dev/null -w '%{http_code}' -u admin:Flood-Admin-1 http://127.0.0.1:$PORT/v2/)" = 200 ]; do sleep 1; done
echo "right login succeeded after $(echo "$(date +%s.%N) - $START" | bc) s"
wait $(jobs -p | grep -v "^$SAMPLER$" | grep -v "^$PID$") 2>/dev/null || true
echo "RSS peak: $(cat "$DIR/peak") MiB; status codes: $(sort "$DIR/codes" | uniq -c | tr '\n' ' ')"
sleep 20
echo "RSS 20 s later: $(rss) MiB"
kill $SAMPLER 2>/dev/null || true
