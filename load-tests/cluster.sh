#!/usr/bin/env bash
# The cluster scenario: 1, 2 and 3 Berth nodes on one PostgreSQL and one Garage S3 store,
# behind nginx with the shipped packaging/nginx/berth-cluster.conf (node addresses filled
# in, nodes beyond N left out). For each N: a warm pull storm through nginx (berth-load
# pull-storm), then
#   - pulls/s (whole `docker pull`-shaped pulls: /v2/, manifest by tag, config, layers);
#   - CPU-seconds per 1,000 pulls per node (utime+stime of /proc/PID/stat over the storm);
#   - database statements per warm pull: calls counted by pg_stat_statements in the berth
#     database over the storm, minus those of an idle period as long (the nodes' periodic
#     flushes of pull counters and usage hours), divided by the pulls; must be 0.
# Then load-tests/s3-blob-get.sh (S3-backed vs file-backed blob GET MB/s).
# All processes share this machine's cores: compare CPU per pull, not pulls/s, across N.
#
#   BERTH_BIN, BERTH_LOAD_BIN  (default target/release/…, else target/debug/…)
#   BERTH_GARAGE_BIN  garage binary (default ../shared/tools/garage, else garage on PATH)
#   DURATION (default 20s)  CLIENTS (default 16)  LAYERS (default 4K,64K,1M)  NODES (default "1 2 3")
#   SKIP_BLOB_GET=1 skips the S3-vs-file blob GET part.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CLIENTS=${CLIENTS:-16}
LAYERS=${LAYERS:-4K,64K,1M}
NODES=${NODES:-"1 2 3"}
pick() { if [ -x "target/release/$1" ]; then echo "target/release/$1"; else echo "target/debug/$1"; fi; }
BIN=${BERTH_BIN:-$(pick berth)}
LOAD=${BERTH_LOAD_BIN:-$(pick berth-load)}
GARAGE=${BERTH_GARAGE_BIN:-}
if [ -z "$GARAGE" ]; then
  if [ -x ../shared/tools/garage ]; then GARAGE=$(realpath ../shared/tools/garage); else GARAGE=$(command -v garage); fi
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
NGINX=${BERTH_NGINX_BIN:-/usr/sbin/nginx}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$work/pgdir/data" -m immediate stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { until curl -s -o /dev/null "$1"; do sleep 0.2; done; }

# PostgreSQL: private, trust on loopback (a throwaway server in a temp dir). It refuses to
# run as root: then as the `postgres` OS user, in a directory it owns.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_port=$(free_port)
chmod 0755 "$work"
mkdir -p "$work/pgdir"
[ "$(id -u)" = 0 ] && chown postgres "$work/pgdir"
as_pg "$PGBIN/initdb" -D "$work/pgdir/data" -U berth -A trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$work/pgdir/data" -l "$work/pgdir/pg.log" -w \
  -o "-p $pg_port -k $work/pgdir -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all" start >/dev/null
"$PGBIN/createdb" -h 127.0.0.1 -p "$pg_port" -U berth berth
psql -h 127.0.0.1 -p "$pg_port" -U berth -d postgres -qc "create extension pg_stat_statements"
psql_q() { psql -h 127.0.0.1 -p "$pg_port" -U berth -d postgres -Atc "$1"; }
# Statements run in the berth database so far (pg_stat_statements counts at once, in shared
# memory; these queries run in the postgres database and are not counted).
xacts() {
  psql_q "select coalesce(sum(calls), 0) from pg_stat_statements s join pg_database d on d.oid = s.dbid where d.datname = 'berth'"
}

# Garage, as load-tests/s3-blob-get.sh starts it.
s3_port=$(free_port); rpc_port=$(free_port)
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
wait_http "http://127.0.0.1:$s3_port/"

cat > "$work/berth.toml" <<EOF
default_repository = "docker-hosted"
[[blob_stores]]
name = "s3"
type = "s3"
endpoint = "http://127.0.0.1:$s3_port"
region = "garage"
bucket = "berth"
prefix = "blobs"
path_style = true
access_key_id = "$key"
secret_access_key = "$secret"
redirect = false
[[repositories]]
name = "docker-hosted"
type = "hosted"
blob_store = "s3"
EOF
head -c 32 /dev/urandom | base64 > "$work/secrets.key"
head -c 32 /dev/urandom | base64 > "$work/token.key"

# Three nodes, started once; each N uses the first N.
node_pids=(); node_addrs=()
for i in 1 2 3; do
  port=$(free_port)
  BERTH_META__URL="postgres://berth@127.0.0.1:$pg_port/berth" \
  BERTH_SECRETS_KEY_FILE="$work/secrets.key" BERTH_SECURITY__TOKEN_KEY_FILE="$work/token.key" \
  BERTH_CLUSTER__NODE_ID="berth$i" BERTH_LOG__ACCESS=off BERTH_WORKERS=2 \
    "$BIN" serve --config "$work/berth.toml" --data-dir "$work/node$i" \
    --listen "127.0.0.1:$port" > "$work/node$i.log" 2>&1 &
  node_pids+=($!); pids+=($!)
  node_addrs+=("127.0.0.1:$port")
  wait_http "http://127.0.0.1:$port/v2/"
done

# nginx with the shipped file: berthK:8081 -> node K; nodes beyond N dropped from the
# shared upstreams (their session upstreams are never chosen: no node has their id).
nginx_port=$(free_port)
mkdir -p "$work/nginx"
start_nginx() {
  local n=$1
  python3 - "$n" "$nginx_port" "${node_addrs[@]}" > "$work/nginx/site.conf" <<'EOF'
import re, sys
n, port, addrs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
out, block = [], None
for line in open("packaging/nginx/berth-cluster.conf"):
    m = re.match(r"\s*upstream (\S+) \{", line)
    if m:
        block = m.group(1)
    k = re.search(r"berth(\d):8081", line)
    if k and int(k.group(1)) > n and block in ("berth_any", "berth_ui"):
        continue
    if k:
        idx = int(k.group(1))
        line = line.replace(k.group(0), addrs[idx - 1] if idx <= n else addrs[0])
    out.append(line.replace("listen 80;", f"listen 127.0.0.1:{port};"))
print("".join(out))
EOF
  cat > "$work/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fcgi; uwsgi_temp_path $work/nginx/uwsgi; scgi_temp_path $work/nginx/scgi;
  include $work/nginx/site.conf;
}
EOF
  "$NGINX" -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf"
  wait_http "http://127.0.0.1:$nginx_port/v2/"
}
stop_nginx() {
  kill -QUIT "$(cat "$work/nginx/nginx.pid")"
  while [ -f "$work/nginx/nginx.pid" ]; do sleep 0.1; done
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
secs=${DURATION%s}

front="http://127.0.0.1:$nginx_port"
"$LOAD" --url "http://${node_addrs[0]}" seed --layers "$LAYERS" > "$work/seed.log"
echo "berth: $BIN; berth-load: $LOAD; $(nproc) cores; pull-storm --clients $CLIENTS --duration $DURATION, layers $LAYERS"
printf '%-6s %10s %22s %14s %14s\n' nodes 'pulls/s' 'CPU-s/1000 pulls/node' 'db stmts idle' 'db stmts/pull'
for n in $NODES; do
  start_nginx "$n"
  # Warm every node (image state, manifest cache) before measuring.
  for i in $(seq "$n"); do
    "$LOAD" --url "http://${node_addrs[$((i-1))]}" pull-storm --clients 2 --count 4 --layers "$LAYERS" > /dev/null
  done
  x0=$(xacts); sleep "$secs"; x1=$(xacts)
  idle=$((x1 - x0))
  before=(); for i in $(seq "$n"); do before+=("$(cpu_ticks "${node_pids[$((i-1))]}")"); done
  # From zero, so the statements of this storm can be listed afterwards.
  psql_q "select pg_stat_statements_reset()" > /dev/null
  x0=$(xacts)
  "$LOAD" --url "$front" pull-storm --clients "$CLIENTS" --duration "$DURATION" --layers "$LAYERS" \
    --json "$work/pull-$n.json" > "$work/pull-$n.log"
  x1=$(xacts)
  pulls=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sum(o['requests'] for o in d['ops'] if o['op']=='manifest'))" "$work/pull-$n.json")
  elapsed=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['elapsed_s'])" "$work/pull-$n.json")
  errors=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['errors'])" "$work/pull-$n.json")
  cpu=""
  for i in $(seq "$n"); do
    after=$(cpu_ticks "${node_pids[$((i-1))]}")
    cpu+=$(awk -v a="$after" -v b="${before[$((i-1))]}" -v hz="$hz" -v p="$pulls" \
      'BEGIN { printf "%.2f ", (a - b) / hz / p * 1000 }')
  done
  per_pull=$(awk -v w="$((x1 - x0))" -v i="$idle" -v p="$pulls" 'BEGIN { d = w - i; if (d < 0) d = 0; printf "%.4f", d / p }')
  printf '%-6s %10.0f %22s %14s %14s   (%s pulls, %s errors, %s statements during the storm)\n' \
    "$n" "$(awk -v p="$pulls" -v e="$elapsed" 'BEGIN { print p / e }')" "$cpu" "$idle" "$per_pull" "$pulls" "$errors" "$((x1 - x0))"
  # What the database saw during the storm, by statement (the per-pull path must not be here).
  psql_q "select s.calls || '  ' || left(regexp_replace(s.query, '\s+', ' ', 'g'), 100) from pg_stat_statements s join pg_database d on d.oid = s.dbid where d.datname = 'berth' order by s.calls desc limit 6" \
    | sed 's/^/         /' > "$work/statements-$n.txt"
  cat "$work/statements-$n.txt"
  stop_nginx
done

if [ "${SKIP_BLOB_GET:-0}" != 1 ]; then
  echo
  echo "S3-backed vs file-backed blob GET (load-tests/s3-blob-get.sh):"
  BERTH_BIN="$BIN" BERTH_GARAGE_BIN="$GARAGE" load-tests/s3-blob-get.sh
fi
