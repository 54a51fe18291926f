#!/usr/bin/env bash
# Page weight and server time of the web UI's browse pages with 10,000 tags on one image.
# Usage: load-tests/ui-pages.sh [path/to/berth] [tags]
# Starts its own Berth (security off) on a free port with a temp data dir, pushes one image
# and tags it N times over the registry API (curl, 8 in parallel), then fetches each page
# five times and prints the median time_starttransfer (server time + loopback) and bytes.
set -euo pipefail
BERTH=${1:-target/release/berth}
N=${2:-10000}
DIR=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BERTH" serve --listen 127.0.0.1:$PORT --data-dir "$DIR/data" 2>"$DIR/log" &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$DIR"' EXIT
B=http://127.0.0.1:$PORT
for _ in $(seq 50); do curl -sf $B/healthz >/dev/null && break; sleep 0.2; done

push_blob() { # file → digest
  local d="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
  curl -sf -X POST --data-binary @"$1" -H 'Content-Type: application/octet-stream' \
    "$B/v2/bench/app/blobs/uploads/?digest=$d" >/dev/null
  echo "$d"
}
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$DIR/config"
head -c 4096 /dev/urandom >"$DIR/layer"
CD=$(push_blob "$DIR/config"); LD=$(push_blob "$DIR/layer")
cat >"$DIR/manifest" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$CD","size":$(stat -c%s "$DIR/config")},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$LD","size":4096}]}
JSON
seq -f 't%05g' 0 $((N - 1)) | xargs -P 8 -I{} curl -sf -o /dev/null -X PUT \
  -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary @"$DIR/manifest" "$B/v2/bench/app/manifests/{}"
echo "pushed $N tags"

measure() { # label path
  local times=() bytes=0
  for _ in 1 2 3 4 5; do
    read -r t s < <(curl -sf -o /dev/null -w '%{time_starttransfer} %{size_download}\n' "$B$2")
    times+=("$t"); bytes=$s
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  printf '%-28s %8s bytes  %6.1f ms\n' "$1" "$bytes" "$(echo "$median * 1000" | bc -l)"
}
measure "repositories (/ui/)" "/ui/"
measure "images" "/ui/browse/docker-hosted"
measure "tags, first page" "/ui/browse/docker-hosted/tags?image=bench/app"
measure "tags, page after t05000" "/ui/browse/docker-hosted/tags?image=bench/app&last=t05000"
measure "tags, last page" "/ui/browse/docker-hosted/tags?image=bench/app&last=t09960"
measure "tags, search t0999" "/ui/browse/docker-hosted/tags?image=bench/app&q=t0999"
measure "manifest" "/ui/browse/docker-hosted/manifest?image=bench/app&ref=t05000"
measure "usage center" "/ui/usage"
measure "stylesheet" "/ui/static/ui.css"
measure "script" "/ui/static/ui.js"
