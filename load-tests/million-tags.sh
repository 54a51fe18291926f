#!/usr/bin/env bash
# Metadata memory and listing latency at a million tags (issue 16, item 6).
# Usage: load-tests/million-tags.sh [path/to/berth] [repos] [tags] [data-dir]
#   defaults: target/release/berth 100 10000 /tmp/berth-million-<repos>x<tags>
# Seeds <repos> images × <tags> tags of tiny distinct manifests with `berth-load seed-tags`
# (skipped when the data dir was seeded before at this scale), restarts Berth and reports:
# time from start to the first answer, RSS (VmRSS, VmHWM) after the restart, after touching
# every repository (first tags/list page + one manifest GET each) and after GETs of many
# tags (50 per repository, repository by repository, as CI pulls); median latency of a
# tags/list page deep into one image and of _catalog pages; the image cache's gauges.
# Extra server settings can be passed in the environment (e.g. BERTH_LIMITS__IMAGE_CACHE_BYTES).
set -euo pipefail
BERTH=${1:-target/release/berth}
REPOS=${2:-100}
TAGS=${3:-10000}
DATA=${4:-/tmp/berth-million-${REPOS}x${TAGS}}
LOAD=${BERTH_LOAD:-$(dirname "$BERTH")/berth-load}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B=http://127.0.0.1:$PORT
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; true' EXIT
mkdir -p "$DATA"

start() { # sets STARTUP: seconds from exec to the first 200 of GET /v2/
  local t0 t1
  t0=$(date +%s.%N)
  # Its own stdout too: a server holding the caller's stdout would block `$(…)` captures.
  "$BERTH" serve --listen 127.0.0.1:$PORT --data-dir "$DATA/data" >>"$DATA/log" 2>&1 &
  PID=$!
  until curl -sf -o /dev/null "$B/v2/"; do sleep 0.02; done
  t1=$(date +%s.%N)
  STARTUP=$(echo "$t1 - $t0" | bc -l)
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
rss() { # label
  printf '%-46s VmRSS %6d MiB   VmHWM %6d MiB\n' "$1" \
    $(($(awk '/VmRSS/{print $2}' /proc/$PID/status) / 1024)) \
    $(($(awk '/VmHWM/{print $2}' /proc/$PID/status) / 1024))
}
median_ms() { # label path
  local times=()
  for _ in 1 2 3 4 5; do times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$B$2")"); done
  printf '%-46s %8.2f ms (median of 5)\n' "$1" \
    "$(echo "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p) * 1000" | bc -l)"
}
repo() { printf 'tags/r%03d' "$1"; }
gauge() { curl -sf "$B/metrics" | awk -v m="$1" '$1 == m {v = $2} END {print v + 0}'; }

if [ ! -f "$DATA/seeded-${REPOS}x${TAGS}" ]; then
  start
  t0=$(date +%s)
  "$LOAD" --url "$B" --progress 30 seed-tags --repos "$REPOS" --tags "$TAGS" --clients 32
  echo "seeded $((REPOS * TAGS)) tagged manifests in $(($(date +%s) - t0)) s"
  touch "$DATA/seeded-${REPOS}x${TAGS}"
  stop
fi

echo "== $REPOS repositories x $TAGS tags = $((REPOS * TAGS)) tagged manifests ($DATA)"
start
printf '%-46s %8.2f s\n' "restart: exec to first answer" "$STARTUP"
rss "after restart"
MID=$(printf 't%05d' $((TAGS / 2)))
median_ms "tags/list n=100, first page (cold image)" "/v2/$(repo 0)/tags/list?n=100"
median_ms "tags/list n=100 after $MID (cold image)" "/v2/$(repo 0)/tags/list?n=100&last=$MID"
median_ms "tags/list n=10000 (cold image)" "/v2/$(repo 1)/tags/list?n=10000"
median_ms "_catalog n=100" "/v2/_catalog?n=100"
median_ms "_catalog n=10 after the middle" "/v2/_catalog?n=10&last=$(repo $((REPOS / 2)))"
rss "after listing (no image loaded)"
t0=$(date +%s.%N)
for r in $(seq 0 $((REPOS - 1))); do
  curl -sf -o /dev/null "$B/v2/$(repo "$r")/tags/list?n=100"
  curl -sf -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "$B/v2/$(repo "$r")/manifests/t00000"
done
printf '%-46s %8.2f s\n' "touch every repository (list + 1 GET)" "$(echo "$(date +%s.%N) - $t0" | bc -l)"
rss "after touching every repository"
t0=$(date +%s.%N)
for r in $(seq 0 $((REPOS - 1))); do
  seq 0 $((TAGS / 50 > 0 ? TAGS / 50 : 1)) $((TAGS - 1)) | head -50 |
    xargs -P 8 -I{} sh -c "curl -sf -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' $B/v2/$(repo "$r")/manifests/\$(printf 't%05d' {})"
done
printf '%-46s %8.2f s\n' "GET 50 tags of every repository" "$(echo "$(date +%s.%N) - $t0" | bc -l)"
rss "after GETs of many tags"
median_ms "warm manifest GET by tag" "/v2/$(repo $((REPOS - 1)))/manifests/t00000"
median_ms "tags/list n=100 after $MID (cached image)" "/v2/$(repo $((REPOS - 1)))/tags/list?n=100&last=$MID"
echo "image cache: $(gauge berth_image_cache_bytes) bytes, $(gauge berth_image_cache_images) images," \
  "$(gauge berth_image_cache_evictions_total) evictions, budget $(gauge berth_image_cache_limit_bytes)"
rss "at the end"
