#!/usr/bin/env bash
# S3-backed vs file-backed blob GET throughput, on this machine.
#
# Starts Garage (single node, temp dir, free ports) and one Berth with two hosted repositories:
# `on-file` (the file store) and `on-s3` (an S3 store on that Garage, streamed through Berth),
# pushes the same 64 MiB random blob to both, then GETs it ROUNDS times from each with curl
# (one at a time, body to /dev/null) and prints MB/s per round and the median per store.
# Also a redirected GET (307 to a pre-signed URL, curl following it) for a third repository.
#
#   BERTH_BIN   berth binary (default target/release/berth, else target/debug/berth)
#   BERTH_GARAGE_BIN  garage binary (default ../shared/tools/garage, else garage on PATH)
#   ROUNDS      GETs per store (default 7)   SIZE_MIB  blob size (default 64)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-7}
SIZE_MIB=${SIZE_MIB:-64}
BIN=${BERTH_BIN:-}
if [ -z "$BIN" ]; then
  if [ -x target/release/berth ]; then BIN=target/release/berth; else BIN=target/debug/berth; fi
fi
GARAGE=${BERTH_GARAGE_BIN:-}
if [ -z "$GARAGE" ]; then
  if [ -x ../shared/tools/garage ]; then GARAGE=$(realpath ../shared/tools/garage); else GARAGE=$(command -v garage); fi
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

s3_port=$(free_port); rpc_port=$(free_port); berth_port=$(free_port)
key=GK0123456789abcdef01234567
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat > "$work/garage.toml" <<EOF
metadata_dir = "$work/garage/meta"
data_dir = "$work/garage/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.garage.localhost"
EOF
GARAGE_DEFAULT_ACCESS_KEY=$key GARAGE_DEFAULT_SECRET_KEY=$secret GARAGE_DEFAULT_BUCKET=berth \
  RUST_LOG=garage=warn "$GARAGE" -c "$work/garage.toml" server --single-node --default-bucket \
  > "$work/garage.log" 2>&1 &
pids+=($!)
until curl -s -o /dev/null "http://127.0.0.1:$s3_port/"; do sleep 0.2; done

store() {
  cat <<EOF
[[blob_stores]]
name = "$1"
type = "s3"
endpoint = "http://127.0.0.1:$s3_port"
region = "garage"
bucket = "berth"
prefix = "$1"
access_key_id = "$key"
secret_access_key = "$secret"
redirect = $2
EOF
}
{
  echo 'default_repository = "on-file"'
  store s3 false
  store s3r true
  for r in on-file:default on-s3:s3 on-s3r:s3r; do
    printf '[[repositories]]\nname = "%s"\ntype = "hosted"\nblob_store = "%s"\n' "${r%%:*}" "${r#*:}"
  done
} > "$work/berth.toml"
BERTH_LOG__ACCESS=off "$BIN" serve --config "$work/berth.toml" --data-dir "$work/data" \
  --listen "127.0.0.1:$berth_port" > "$work/berth.log" 2>&1 &
pids+=($!)
base=http://127.0.0.1:$berth_port
until curl -s -o /dev/null "$base/v2/"; do sleep 0.2; done

head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$work/blob"
digest=sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)
for repo in on-file on-s3 on-s3r; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$work/blob" \
    -H 'Content-Type: application/octet-stream' \
    "$base/v2/repository/$repo/load/blobs/uploads/?digest=$digest")
  [ "$code" = 201 ] || { echo "push to $repo failed: $code" >&2; tail "$work/berth.log" >&2; exit 1; }
done

echo "berth: $BIN ($(file -b "$BIN" | grep -q 'not stripped' && echo unstripped || echo stripped)); blob ${SIZE_MIB} MiB; $ROUNDS GETs each; $(nproc) cores"
for repo in on-file on-s3 on-s3r; do
  speeds=()
  for _ in $(seq "$ROUNDS"); do
    s=$(curl -s -L -o /dev/null -w '%{speed_download}' "$base/v2/repository/$repo/load/blobs/$digest")
    speeds+=("$(awk -v s="$s" 'BEGIN { printf "%.0f", s / 1e6 }')")
  done
  median=$(printf '%s\n' "${speeds[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-8s MB/s per GET: %s  median %s\n' "$repo" "${speeds[*]}" "$median"
done
