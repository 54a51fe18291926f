#!/usr/bin/env bash
# proxy-fleet-cold-pull.sh — a CI fleet's cold start: N clients pull the same uncached image
# (manifest by tag, then config and layers) at once through a pull-through cache, Berth's proxy
# repository vs Distribution (Debian's docker-registry) in proxy mode, both in front of the same
# upstream docker-registry. Prints time to first byte of each blob GET (p50/p99), the wall time
# of the whole storm, and how many requests reached the upstream (from its access log) per
# pulled image. Every pulled blob is verified against its digest.
#
# Usage: load-tests/proxy-fleet-cold-pull.sh   (CLIENTS=20 LAYERS=3 MIB=16 BERTH_BIN=target/debug/berth)
set -euo pipefail
CLIENTS=${CLIENTS:-20}
LAYERS=${LAYERS:-3}
MIB=${MIB:-16}
BERTH_BIN=${BERTH_BIN:-target/debug/berth}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

up=$(port); dist=$(port); berth=$(port)
cat > "$work/upstream.yml" <<YML
version: 0.1
log: {level: info, formatter: text, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $work/upstream}}
http: {addr: 127.0.0.1:$up}
YML
cat > "$work/dist.yml" <<YML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/dist}}
http: {addr: 127.0.0.1:$dist}
proxy: {remoteurl: "http://127.0.0.1:$up"}
YML
cat > "$work/berth.toml" <<TOML
[log]
level = "warn"
[[repositories]]
name = "hub"
type = "proxy"
[repositories.proxy]
remote_url = "http://127.0.0.1:$up"
TOML
docker-registry serve "$work/upstream.yml" >"$work/upstream.log" 2>&1 & pids+=($!)
docker-registry serve "$work/dist.yml" >/dev/null 2>&1 & pids+=($!)
"$BERTH_BIN" serve --config "$work/berth.toml" --listen "127.0.0.1:$berth" --data-dir "$work/berth" >/dev/null 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$up/v2/"; wait_up "http://127.0.0.1:$dist/v2/"; wait_up "http://127.0.0.1:$berth/v2/"

# One image per cache (so both start cold), same content shape.
push_image() { # name → pushes config + LAYERS random layers + manifest tagged v1
  python3 - "$up" "$1" "$LAYERS" "$MIB" <<'PY'
import hashlib, json, os, sys, urllib.request
up, name, layers, mib = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = f"http://127.0.0.1:{up}/v2/{name}"
def push(b):
    d = "sha256:" + hashlib.sha256(b).hexdigest()
    r = urllib.request.urlopen(urllib.request.Request(base + "/blobs/uploads/", data=b"", method="POST"))
    loc = r.headers["Location"]; loc = loc if loc.startswith("http") else f"http://127.0.0.1:{up}" + loc
    sep = "&" if "?" in loc else "?"
    urllib.request.urlopen(urllib.request.Request(loc + sep + "digest=" + d, data=b, method="PUT",
                           headers={"Content-Type": "application/octet-stream"}))
    return d, len(b)
ls = [push(os.urandom(mib << 20)) for _ in range(layers)]
cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [d for d, _ in ls]}}).encode()
cd, cs = push(cfg)
m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s} for d, s in ls]}).encode()
urllib.request.urlopen(urllib.request.Request(base + "/manifests/v1", data=m, method="PUT",
                       headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}))
PY
}

# N clients pulling <base>/<name>:v1 at once; prints the measurements.
storm() { # label base name
  local label=$1 base=$2 name=$3 before after
  before=$(grep -c '"GET /v2/\|"HEAD /v2/' "$work/upstream.log" || true)
  python3 - "$base" "$name" "$CLIENTS" "$label" <<'PY'
import hashlib, json, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, name, clients, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ACCEPT = "application/vnd.oci.image.manifest.v1+json"
def get(path):
    req = urllib.request.Request(base + path, headers={"Accept": ACCEPT})
    t0 = time.perf_counter(); r = urllib.request.urlopen(req, timeout=600)
    first = r.read(1); ttfb = time.perf_counter() - t0
    return first + r.read(), ttfb
def pull(_):
    m, _ = get(f"/v2/{name}/manifests/v1"); m = json.loads(m)
    ttfbs = []
    for d in [m["config"]] + m["layers"]:
        body, ttfb = get(f"/v2/{name}/blobs/{d['digest']}")
        assert "sha256:" + hashlib.sha256(body).hexdigest() == d["digest"], "wrong bytes"
        ttfbs.append(ttfb)
    return ttfbs
t0 = time.perf_counter()
with ThreadPoolExecutor(clients) as pool:
    ttfbs = sorted(t for r in pool.map(pull, range(clients)) for t in r)
wall = time.perf_counter() - t0
pct = lambda p: ttfbs[min(len(ttfbs) - 1, int(p * len(ttfbs)))] * 1000
print(f"{label:13} clients={clients} blob TTFB p50={pct(0.5):.0f} ms p99={pct(0.99):.0f} ms  storm {wall:.2f} s", end="")
PY
  sleep 1
  after=$(grep -c '"GET /v2/\|"HEAD /v2/' "$work/upstream.log" || true)
  echo "  upstream requests: $((after - before)) for $CLIENTS pulls of 1 image"
}

echo "image: $LAYERS layers x $MIB MiB + config; $CLIENTS clients at once, cold caches"
push_image fleet-berth; push_image fleet-dist
storm "berth proxy" "http://127.0.0.1:$berth/repository/hub" fleet-berth
storm "distribution" "http://127.0.0.1:$dist" fleet-dist
