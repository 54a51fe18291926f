#!/usr/bin/env bash
# proxy-cold-pull.sh — time to first byte and total time of a cold (uncached) blob pull
# through a Berth proxy repository, against the same pull straight from the upstream.
# Streaming means the first byte through Berth arrives about as soon as from the upstream,
# not after the whole blob was downloaded (Nexus waits for the whole blob).
#
# Starts docker-registry (the upstream) and Berth (one proxy repository `hub` of it), each
# on a random 127.0.0.1 port with a temp dir, pushes a MIB-sized random layer to the
# upstream, then for each of ROUNDS rounds: a fresh blob (so Berth's cache is cold) pulled
# directly, then through Berth. Prints curl's time_starttransfer and time_total per pull.
#
# Usage: load-tests/proxy-cold-pull.sh    (MIB=256 ROUNDS=3 BERTH_BIN=target/debug/berth)
set -euo pipefail
MIB=${MIB:-256}
ROUNDS=${ROUNDS:-3}
BERTH_BIN=${BERTH_BIN:-target/debug/berth}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 300); do curl -fsS -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

up=$(port); berth=$(port)
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$up}
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 & pids+=($!)
cat > "$work/berth.toml" <<TOML
[log]
level = "warn"
[[repositories]]
name = "hub"
type = "proxy"
[repositories.proxy]
remote_url = "http://127.0.0.1:$up"
TOML
"$BERTH_BIN" serve --config "$work/berth.toml" --listen "127.0.0.1:$berth" --data-dir "$work/berth" >/dev/null 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$up/v2/"; wait_up "http://127.0.0.1:$berth/v2/"

push() {
  local file=$1 digest=sha256:$(sha256sum "$1" | cut -d' ' -f1) loc
  loc=$(curl -fsS -X POST -D - -o /dev/null "http://127.0.0.1:$up/v2/bench/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  case $loc in http*) ;; *) loc="http://127.0.0.1:$up$loc";; esac
  curl -fsS -X PUT -T "$file" -H 'Content-Type: application/octet-stream' "$loc&digest=$digest" >/dev/null
  echo "$digest"
}
fmt='%{time_starttransfer} %{time_total} %{size_download}\n'
echo "blob MiB=$MIB  (seconds: ttfb total bytes)"
for round in $(seq "$ROUNDS"); do
  head -c $((MIB << 20)) /dev/urandom > "$work/layer"
  d=$(push "$work/layer")
  echo "round $round direct:  $(curl -fsS -o /dev/null -w "$fmt" "http://127.0.0.1:$up/v2/bench/blobs/$d")"
  echo "round $round berth:   $(curl -fsS -o /dev/null -w "$fmt" "http://127.0.0.1:$berth/repository/hub/v2/bench/blobs/$d")"
  echo "round $round cached:  $(curl -fsS -o /dev/null -w "$fmt" "http://127.0.0.1:$berth/repository/hub/v2/bench/blobs/$d")"
done
