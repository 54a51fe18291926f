#!/usr/bin/env bash
# compare.sh — Berth side by side with CNCF Distribution (Debian's docker-registry) on this
# machine, plus the physical limits they are judged against (single-core SHA-256, fsync'd disk
# writes, nginx serving the same files). Prints a Markdown report on stdout, progress on stderr.
#
# What it does
#   1. Builds Berth and berth-load (cargo build --release) unless SKIP_BUILD=1.
#   2. Starts Berth, docker-registry and nginx (nginx-light), each on a random 127.0.0.1 port,
#      storage in its own directory under one temp dir (same filesystem). Request logging is
#      off everywhere. Distribution keeps its defaults (no fsync); Berth fsyncs every blob.
#   3. Seeds both registries with `berth-load seed` (8 layers, 4 KiB … 64 MiB) and gives nginx
#      the same manifest bytes, 1 MiB layer and 64 MiB layer as static files.
#   4. Measures the limits once: `sha256sum` and `openssl speed sha256` (one core), and
#      `dd conv=fsync` (write + fsync) of BIG_MIB on the registries' filesystem.
#   5. ROUNDS rounds, alternating which registry goes first; in each, for each registry:
#        manifest c64/c256   wrk GET manifest by tag (Accept: OCI manifest)
#        blob-1m, blob-64m   wrk GET of the 1 MiB and 64 MiB layers, BLOB_CONNS connections
#        pull                berth-load pull-storm: PULL_CLIENTS clients each doing /v2/,
#                            manifest by tag, config and every layer, every byte verified
#        pull-raw            the same pulls with --no-verify: on 2 cores the verifying client's
#                            SHA-256 competes with the server, this shows the registry alone
#        small-blobs         berth-load push-storm --blobs-only: SMALL_COUNT blobs of
#                            SMALL_SIZE by SMALL_CLIENTS clients (monolithic POST + PUT)
#        push-images         PUSH_COUNT distinct images by PUSH_CLIENTS clients, chunked
#        big-push            one BIG_MIB blob, monolithic then chunked (CHUNK)
#        mixed               pull storm while a push storm runs, MIXED_DURATION
#        manifest-token      manifest c64/c256 against a second Berth with security on and a
#                            bearer token (DockerToken realm) on every request
#        manifest-basic      the same with Basic credentials on every request (served from
#                            the verified-credential cache after the first)
#        pull-token          pull-raw's storm against the security-on Berth: each pull does the
#                            Docker token flow (GET /v2/, 401, token for Basic credentials)
#        pull-basic          the same with Basic credentials on every request (--basic)
#        manifest-log        manifest c64/c256 against a Berth at the default log level and
#                            access log (`info`, `sampled`), its log written to a file; the
#                            other Berths run at `warn`
#        tls                 manifest c64/c256 and blob-64m over HTTPS, keep-alive: a third
#                            Berth serving TLS itself (rustls, [security.tls]) and nginx
#                            terminating TLS (TLS 1.3, same ECDSA P-256 certificate); the
#                            negotiated suites are printed, and CPU seconds per GB served
#      and nginx gets the same wrk runs on its files. Before each scenario the server's peak
#      RSS is reset (clear_refs, root only); after it, CPU seconds (utime+stime from
#      /proc/PID/stat) and VmHWM are read.
#   6. Prints medians per figure, the ratio Berth ÷ Distribution (and ÷ nginx, ÷ the limit where
#      PRODUCT.md §3 sets one), per-round values, and CPU / peak RSS per scenario.
#
# Usage
#   load-tests/compare.sh > report.md                  # ≈ 12 min with the defaults + build
#   ROUNDS=1 DURATION=3s BIG_MIB=128 SMALL_COUNT=400 load-tests/compare.sh   # smoke, ≈ 3 min
#   SCENARIOS="manifest blob" load-tests/compare.sh    # a subset
#
# Environment (defaults)
#   ROUNDS=3  DURATION=5s (each wrk run)  CONNS="64 256"  BLOB_CONNS=8  WRK_THREADS=$(nproc)
#   SCENARIOS="manifest blob pull pull-raw small-blobs push-images big-push mixed
#              manifest-token manifest-basic pull-token pull-basic manifest-log tls"
#   PULL_CLIENTS=8  PULL_DURATION=8s  PULL_LAYERS=4K,32K,256K,1M,4M,8M,16M,64M
#   SMALL_COUNT=2000  SMALL_CLIENTS=32  SMALL_SIZE=16K
#   PUSH_COUNT=32  PUSH_CLIENTS=8  PUSH_LAYERS=4K,256K,1M,4M  CHUNK=4M
#   BIG_MIB=512  MIXED_DURATION=8s  WORK_ROOT=${TMPDIR:-/tmp}  KEEP=0  SKIP_BUILD=0
#   BERTH_BIN, LOAD_BIN (default target/release/…)  REGISTRY_BIN=docker-registry  NGINX_BIN=nginx
#
# Requires: bash, curl, wrk, jq, python3, nginx, openssl, docker-registry, a Linux /proc.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-"64 256"}
BLOB_CONNS=${BLOB_CONNS:-8}
WRK_THREADS=${WRK_THREADS:-$(nproc)}
SCENARIOS=${SCENARIOS:-"manifest blob pull pull-raw small-blobs push-images big-push mixed manifest-token manifest-basic pull-token pull-basic manifest-log tls"}
PULL_CLIENTS=${PULL_CLIENTS:-8}
PULL_DURATION=${PULL_DURATION:-8s}
PULL_LAYERS=${PULL_LAYERS:-4K,32K,256K,1M,4M,8M,16M,64M}
SMALL_COUNT=${SMALL_COUNT:-2000}
SMALL_CLIENTS=${SMALL_CLIENTS:-32}
SMALL_SIZE=${SMALL_SIZE:-16K}
PUSH_COUNT=${PUSH_COUNT:-32}
PUSH_CLIENTS=${PUSH_CLIENTS:-8}
PUSH_LAYERS=${PUSH_LAYERS:-4K,256K,1M,4M}
CHUNK=${CHUNK:-4M}
BIG_MIB=${BIG_MIB:-512}
MIXED_DURATION=${MIXED_DURATION:-8s}
WORK_ROOT=${WORK_ROOT:-${TMPDIR:-/tmp}}
KEEP=${KEEP:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
REGISTRY_BIN=${REGISTRY_BIN:-docker-registry}
NGINX_BIN=${NGINX_BIN:-nginx}

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTH_BIN=${BERTH_BIN:-$REPO_DIR/target/release/berth}
LOAD_BIN=${LOAD_BIN:-$REPO_DIR/target/release/berth-load}
IMAGE=load/app
TAG=v1
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
T0=$(date +%s)

log() { printf '[%4ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
has() { [[ " $SCENARIOS " == *" $1 "* ]]; }

for tool in curl wrk jq python3 openssl dd sha256sum "$REGISTRY_BIN" "$NGINX_BIN"; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install -y docker-registry wrk jq curl python3 nginx-light openssl)"
done

WORK=$(mktemp -d "$WORK_ROOT/berth-compare.XXXXXX")
declare -A PID=() BASE=()
REGS=(berth dist)
declare -A LABEL=([berth]=Berth [dist]=Distribution [nginx]=nginx [bsec]="Berth (security on)"
    [btls]="Berth (TLS)" [ntls]="nginx (TLS)" [blog]="Berth (default logging)"
    [bref]="Berth (reference next to security on)" [lref]="Berth (reference next to default logging)")
ADMIN_PASSWORD=compare-admin-password
has_secure() { has manifest-token || has manifest-basic || has pull-token || has pull-basic; }

cleanup() {
    local status=$?
    for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PID[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_ready() { # name url
    local deadline=$(($(date +%s) + 30))
    until curl -kfsS --max-time 2 -o /dev/null "$2"; do
        kill -0 "${PID[$1]}" 2>/dev/null || die "${LABEL[$1]} exited; see $WORK/$1.log"
        (($(date +%s) < deadline)) || die "${LABEL[$1]} did not become ready; see $WORK/$1.log"
        sleep 0.2
    done
}

# ---------------------------------------------------------------- build and start
if [[ $SKIP_BUILD != 1 ]]; then
    log "building Berth and berth-load (release)…"
    (cd "$REPO_DIR" && cargo build --release --quiet --bin berth --bin berth-load) >&2
fi
[[ -x $BERTH_BIN && -x $LOAD_BIN ]] || die "no release binaries ($BERTH_BIN, $LOAD_BIN)"

start_berth() { # [who [scheme [VAR=value…]]]: the plain one, or a variant with more settings
    local who=${1:-berth} scheme=${2:-http} port
    shift $(($# < 2 ? $# : 2))
    port=$(free_port)
    BASE[$who]=$scheme://127.0.0.1:$port
    mkdir -p "$WORK/$who-data"
    # `blog` keeps the default level and access log; the others log warnings only.
    local level=(BERTH_LOG__LEVEL=warn)
    [[ $who == blog ]] && level=()
    env -u BERTH_BIN -u RUST_LOG -u BERTH_LOG__LEVEL -u BERTH_LOG__ACCESS "${level[@]}" "$@" "$BERTH_BIN" serve --listen "127.0.0.1:$port" \
        --data-dir "$WORK/$who-data" >"$WORK/$who.log" 2>&1 &
    PID[$who]=$!
}

# One self-signed ECDSA P-256 certificate for 127.0.0.1, used by Berth and nginx alike.
make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$WORK/tls.key" -out "$WORK/tls.pem" 2>/dev/null || die "openssl cannot make a certificate"
}

start_dist() {
    local port
    port=$(free_port)
    BASE[dist]=http://127.0.0.1:$port
    mkdir -p "$WORK/dist-data"
    cat >"$WORK/dist-config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/dist-data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  secret: compare-not-a-secret
EOF
    "$REGISTRY_BIN" serve "$WORK/dist-config.yml" >"$WORK/dist.log" 2>&1 &
    PID[dist]=$!
}

start_nginx() {
    local port
    port=$(free_port)
    BASE[nginx]=http://127.0.0.1:$port
    mkdir -p "$WORK/nginx/www" "$WORK/nginx/tmp"
    cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
daemon off;
$( [[ $(id -u) == 0 ]] && echo 'user root;')
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx/tmp;
    proxy_temp_path $WORK/nginx/tmp;
    fastcgi_temp_path $WORK/nginx/tmp;
    uwsgi_temp_path $WORK/nginx/tmp;
    scgi_temp_path $WORK/nginx/tmp;
    default_type application/octet-stream;
    server { listen 127.0.0.1:$port; root $WORK/nginx/www; }
$( has tls && cat <<TLS
    server {
        listen 127.0.0.1:${NGINX_TLS_PORT} ssl;
        ssl_certificate $WORK/tls.pem;
        ssl_certificate_key $WORK/tls.key;
        ssl_protocols TLSv1.3;
        root $WORK/nginx/www;
    }
TLS
)
}
EOF
    "$NGINX_BIN" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx.log" 2>&1 &
    PID[nginx]=$!
}

log "work dir $WORK"
start_berth
if has_secure; then
    start_berth bsec http BERTH_SECURITY__ENABLED=true BERTH_SECURITY__INITIAL_ADMIN_PASSWORD=$ADMIN_PASSWORD \
        BERTH_SECURITY__TOKEN_TTL_SECS=86400
fi
has manifest-log && start_berth blog
if has tls; then
    make_cert
    start_berth btls https BERTH_SECURITY__TLS__CERT="$WORK/tls.pem" BERTH_SECURITY__TLS__KEY="$WORK/tls.key"
    NGINX_TLS_PORT=$(free_port)
    BASE[ntls]=https://127.0.0.1:$NGINX_TLS_PORT
fi
start_dist
start_nginx
for reg in "${REGS[@]}"; do
    wait_ready "$reg" "${BASE[$reg]}/v2/"
    log "${LABEL[$reg]} ready on ${BASE[$reg]} (pid ${PID[$reg]})"
done
for reg in bsec btls blog; do
    [[ -n ${PID[$reg]:-} ]] || continue
    wait_ready "$reg" "${BASE[$reg]}/healthz"
    log "${LABEL[$reg]} ready on ${BASE[$reg]} (pid ${PID[$reg]})"
done

# ---------------------------------------------------------------- seeding
load() { # reg args… : berth-load against a registry
    local reg=$1
    shift
    "$LOAD_BIN" --url "${BASE[$reg]}" --progress 0 "$@"
}

for reg in "${REGS[@]}"; do
    load "$reg" seed --repo "$IMAGE" --tag "$TAG" --layers "$PULL_LAYERS" >/dev/null 2>"$WORK/seed-$reg.log" ||
        die "seeding ${LABEL[$reg]} failed: $(cat "$WORK/seed-$reg.log")"
done
curl -fsS -H "Accept: $OCI_MANIFEST" "${BASE[berth]}/v2/$IMAGE/manifests/$TAG" >"$WORK/manifest"
cmp -s "$WORK/manifest" <(curl -fsS -H "Accept: $OCI_MANIFEST" "${BASE[dist]}/v2/$IMAGE/manifests/$TAG") ||
    die "the registries serve different manifests"
layer_of_size() { jq -r --argjson s "$1" '[.layers[] | select(.size == $s) | .digest][0] // empty' "$WORK/manifest"; }
BLOB_1M=$(layer_of_size $((1 << 20)))
BLOB_64M=$(layer_of_size $((64 << 20)))
[[ -n $BLOB_1M && -n $BLOB_64M ]] || die "PULL_LAYERS must include 1M and 64M for the blob GET figures"
if has_secure; then
    BERTH_LOAD_PASSWORD=$ADMIN_PASSWORD load bsec --user admin seed --repo "$IMAGE" --tag "$TAG" \
        --layers "$PULL_LAYERS" >/dev/null 2>"$WORK/seed-bsec.log" || die "seeding Berth (security on) failed: $(cat "$WORK/seed-bsec.log")"
    curl -fsS -u "admin:$ADMIN_PASSWORD" -X PUT "${BASE[bsec]}/service/rest/v1/security/realms/active" \
        -H 'Content-Type: application/json' \
        -d '["NexusAuthenticatingRealm","NexusAuthorizingRealm","DockerToken"]' || die "cannot activate the DockerToken realm"
    export BERTH_LOAD_PASSWORD=$ADMIN_PASSWORD # for pull-token and pull-basic (--user admin)
    TOKEN=$(curl -fsS -u "admin:$ADMIN_PASSWORD" "${BASE[bsec]}/v2/token?service=berth&scope=repository:$IMAGE:pull" | jq -r .token)
    BASIC=$(printf 'admin:%s' "$ADMIN_PASSWORD" | base64 -w0)
    cmp -s "$WORK/manifest" <(curl -fsS -H "Accept: $OCI_MANIFEST" -H "Authorization: Bearer $TOKEN" \
        "${BASE[bsec]}/v2/$IMAGE/manifests/$TAG") || die "Berth (security on) serves another manifest, or refuses the token"
fi
if has manifest-log; then
    load blog seed --repo "$IMAGE" --tag "$TAG" --layers "$PULL_LAYERS" >/dev/null 2>"$WORK/seed-blog.log" ||
        die "seeding Berth (default logging) failed: $(cat "$WORK/seed-blog.log")"
fi
if has tls; then
    load btls --insecure seed --repo "$IMAGE" --tag "$TAG" --layers "$PULL_LAYERS" >/dev/null 2>"$WORK/seed-btls.log" ||
        die "seeding Berth (TLS) failed: $(cat "$WORK/seed-btls.log")"
fi
cp "$WORK/manifest" "$WORK/nginx/www/manifest"
curl -fsS "${BASE[berth]}/v2/$IMAGE/blobs/$BLOB_1M" -o "$WORK/nginx/www/blob-1m"
curl -fsS "${BASE[berth]}/v2/$IMAGE/blobs/$BLOB_64M" -o "$WORK/nginx/www/blob-64m"
wait_ready nginx "${BASE[nginx]}/manifest"
has tls && wait_ready nginx "${BASE[ntls]}/manifest"
log "seeded; manifest $(stat -c %s "$WORK/manifest") bytes; nginx ready on ${BASE[nginx]}"

# ---------------------------------------------------------------- figures
declare -A RESULTS=() # "who|figure" -> values, one per round
record() { RESULTS["$1|$2"]="${RESULTS["$1|$2"]:-} $3"; }

# Resource sampling around one scenario of one server.
cpu_ticks() { # a process and its children (nginx's workers)
    local p t=0
    for p in "$1" $(pgrep -P "$1" || true); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$t"
}
hwm_kb() { awk '$1 == "VmHWM:" {print $2}' "/proc/$1/status"; }
CPU_START=0 WALL_START=0
sample_start() {
    echo 5 >"/proc/${PID[$1]}/clear_refs" 2>/dev/null || true
    CPU_START=$(cpu_ticks "${PID[$1]}")
    WALL_START=$(date +%s.%N)
}
sample_end() { # who scenario [record as]
    local ticks wall as=${3:-$1}
    ticks=$(($(cpu_ticks "${PID[$1]}") - CPU_START))
    wall=$(awk -v a="$WALL_START" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
    record "$as" "$2 CPU %" "$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v w="$wall" 'BEGIN {printf "%.0f", t / hz / w * 100}')"
    record "$as" "$2 peak RSS MiB" "$(awk -v k="$(hwm_kb "${PID[$1]}")" 'BEGIN {printf "%.1f", k / 1024}')"
}

to_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}
to_mb() { # wrk Transfer/sec (1024 units) in MB/s (10^6)
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "KB") n *= 1024; else if (u == "MB") n *= 1048576; else if (u == "GB") n *= 1073741824
        printf "%.1f", n / 1e6 }'
}

# wrk_run WHO NAME CONNS URL [HEADER…]: records req/s, MB/s, p50, p99, errors under NAME.
wrk_run() {
    local who=$1 name=$2 conns=$3 url=$4 out errs hdr
    shift 4
    local args=(-t "$WRK_THREADS" -c "$conns" -d "$DURATION" --timeout 10s --latency)
    ((conns < WRK_THREADS)) && args[1]=$conns
    for hdr in "$@"; do args+=(-H "$hdr"); done
    out=$(wrk "${args[@]}" "$url" 2>&1) || die "wrk failed: $out"
    echo "$out" >>"$WORK/wrk-$who.txt"
    errs=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
    record "$who" "$name req/s" "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    record "$who" "$name MB/s" "$(to_mb "$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")")"
    record "$who" "$name p50 ms" "$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
    record "$who" "$name p99 ms" "$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
    record "$who" "$name errors" "$errs"
    log "  ${LABEL[$who]}: $name: $(awk '/^Requests\/sec:/ {print $2}' <<<"$out") req/s, errors $errs"
}

# load_run WHO NAME berth-load-args…: records the JSON report's figures under NAME.
load_run() {
    local who=$1 name=$2 json
    shift 2
    json="$WORK/$who-$name.json"
    load "$who" --json "$json" "$@" >>"$WORK/berth-load-$who.txt" 2>&1 || true
    [[ -s $json ]] || die "berth-load $name against ${LABEL[$who]} wrote no report; see $WORK/berth-load-$who.txt"
    record "$who" "$name errors" "$(jq '.errors' "$json")"
    local row
    for row in $(jq -r '.ops[].op' "$json"); do
        record "$who" "$name $row/s" "$(jq --arg o "$row" '.ops[] | select(.op == $o) | .per_sec | . * 10 | round / 10' "$json")"
        record "$who" "$name $row MB/s" "$(jq --arg o "$row" '.ops[] | select(.op == $o) | .mb_per_sec | . * 10 | round / 10' "$json")"
        record "$who" "$name $row MB/s each" "$(jq --arg o "$row" '.ops[] | select(.op == $o) | .mb_per_sec_each | . * 10 | round / 10' "$json")"
        record "$who" "$name $row p50 ms" "$(jq --arg o "$row" '.ops[] | select(.op == $o) | .p50_ms' "$json")"
        record "$who" "$name $row p99 ms" "$(jq --arg o "$row" '.ops[] | select(.op == $o) | .p99_ms' "$json")"
    done
    log "  ${LABEL[$who]}: $name: $(jq -r '[.ops[] | "\(.op) \(.per_sec | floor)/s"] | join(", ")' "$json"), errors $(jq '.errors' "$json")"
}

# scenario WHO NAME command…: runs one scenario with CPU and RSS sampling.
scenario() {
    local who=$1 name=$2
    shift 2
    # nginx serves two scenarios at once only with TLS: sampled there (workers included).
    [[ $who == nginx ]] && { "$@"; return; }
    local proc=$who
    [[ $who == ntls ]] && proc=nginx
    sample_start "$proc"
    "$@"
    sample_end "$proc" "$name" "$who"
}

manifest_scenario() { # who [record as]
    local who=$1 as=${2:-$1} url
    if [[ $who == nginx ]]; then url="${BASE[nginx]}/manifest"; else url="${BASE[$who]}/v2/$IMAGE/manifests/$TAG"; fi
    for c in $CONNS; do wrk_run "$as" "manifest c$c" "$c" "$url" "Accept: $OCI_MANIFEST"; done
}
blob_scenario() {
    local who=$1 b1 b64
    if [[ $who == nginx ]]; then
        b1="${BASE[nginx]}/blob-1m" b64="${BASE[nginx]}/blob-64m"
    else
        b1="${BASE[$who]}/v2/$IMAGE/blobs/$BLOB_1M" b64="${BASE[$who]}/v2/$IMAGE/blobs/$BLOB_64M"
    fi
    wrk_run "$who" "blob-1m c$BLOB_CONNS" "$BLOB_CONNS" "$b1"
    wrk_run "$who" "blob-64m c$BLOB_CONNS" "$BLOB_CONNS" "$b64"
}

secure_scenario() { # token or basic, against Berth with security on
    local auth
    if [[ $1 == token ]]; then auth="Authorization: Bearer $TOKEN"; else auth="Authorization: Basic $BASIC"; fi
    for c in $CONNS; do
        wrk_run bsec "manifest-$1 c$c" "$c" "${BASE[bsec]}/v2/$IMAGE/manifests/$TAG" "Accept: $OCI_MANIFEST" "$auth"
    done
}
secure_scenarios() {
    has manifest-token && scenario bsec manifest-token secure_scenario token
    has manifest-basic && scenario bsec manifest-basic secure_scenario basic
    return 0
}
tls_scenario() { # btls or ntls
    local who=$1 m
    if [[ $who == ntls ]]; then m="${BASE[ntls]}/manifest"; else m="${BASE[btls]}/v2/$IMAGE/manifests/$TAG"; fi
    for c in $CONNS; do wrk_run "$who" "tls manifest c$c" "$c" "$m" "Accept: $OCI_MANIFEST"; done
}
tls_blob_scenario() {
    local who=$1 b
    if [[ $who == ntls ]]; then b="${BASE[ntls]}/blob-64m"; else b="${BASE[btls]}/v2/$IMAGE/blobs/$BLOB_64M"; fi
    wrk_run "$who" "tls blob-64m c$BLOB_CONNS" "$BLOB_CONNS" "$b"
}

# The plain Berth's manifest figures again, next to a variant's, recorded as REF: the host's
# speed drifts by 20% and more between rounds on a shared VM, so a variant is judged by the
# ratio to this reference in the same round (median over rounds), not by two medians taken
# minutes apart. Odd rounds run the reference first, even rounds last.
paired() { # REF round command…
    local ref=$1 r=$2
    shift 2
    ((r % 2)) && manifest_scenario berth "$ref"
    "$@"
    ((r % 2)) || manifest_scenario berth "$ref"
}

run_round() { # who round
    local who=$1 r=$2
    case $who in
    bsec)
        if has manifest-token || has manifest-basic; then
            paired bref "$r" secure_scenarios
        fi
        # The realm is DockerToken: without --basic each pull asks for a token, as docker does.
        has pull-token && scenario bsec pull-token load_run bsec pull-token --user admin pull-storm --repo "$IMAGE" \
            --tag "$TAG" --layers "$PULL_LAYERS" --clients "$PULL_CLIENTS" --duration "$PULL_DURATION" --no-verify
        has pull-basic && scenario bsec pull-basic load_run bsec pull-basic --user admin --basic pull-storm --repo "$IMAGE" \
            --tag "$TAG" --layers "$PULL_LAYERS" --clients "$PULL_CLIENTS" --duration "$PULL_DURATION" --no-verify
        return 0
        ;;
    blog)
        paired lref "$r" scenario blog manifest-log manifest_scenario blog
        return 0
        ;;
    btls | ntls)
        scenario "$who" tls-manifest tls_scenario "$who"
        scenario "$who" tls-blob tls_blob_scenario "$who"
        return 0
        ;;
    esac
    has manifest && scenario "$who" manifest manifest_scenario "$who"
    has blob && scenario "$who" blob blob_scenario "$who"
    [[ $who == nginx ]] && return
    has pull && scenario "$who" pull load_run "$who" pull pull-storm --repo "$IMAGE" --tag "$TAG" \
        --layers "$PULL_LAYERS" --clients "$PULL_CLIENTS" --duration "$PULL_DURATION"
    has pull-raw && scenario "$who" pull-raw load_run "$who" pull-raw pull-storm --repo "$IMAGE" --tag "$TAG" \
        --layers "$PULL_LAYERS" --clients "$PULL_CLIENTS" --duration "$PULL_DURATION" --no-verify
    has small-blobs && scenario "$who" small-blobs load_run "$who" small-blobs push-storm --blobs-only \
        --push-layers "$SMALL_SIZE" --clients "$SMALL_CLIENTS" --count "$SMALL_COUNT" --repo-prefix "load/small$r"
    has push-images && scenario "$who" push-images load_run "$who" push-images push-storm --mode chunked \
        --chunk-size "$CHUNK" --push-layers "$PUSH_LAYERS" --clients "$PUSH_CLIENTS" --count "$PUSH_COUNT" --repo-prefix "load/images$r"
    has big-push && scenario "$who" big-push load_run "$who" big-push big-push --size "${BIG_MIB}M" --chunk-size "$CHUNK" --repo "load/big$r"
    has mixed && scenario "$who" mixed load_run "$who" mixed mixed --repo "$IMAGE" --tag "$TAG" --layers "$PULL_LAYERS" \
        --duration "$MIXED_DURATION" --push-layers "$PUSH_LAYERS" --repo-prefix "load/mixed$r"
    return 0
}

# ---------------------------------------------------------------- physical limits
log "measuring the limits…"
head -c "$((BIG_MIB << 20))" /dev/urandom >"$WORK/limit-file"
sha256sum "$WORK/limit-file" >/dev/null # into the page cache
start=$(date +%s.%N)
sha256sum "$WORK/limit-file" >/dev/null
SHA_SUM=$(awk -v a="$start" -v b="$(date +%s.%N)" -v m="$BIG_MIB" 'BEGIN {printf "%.0f", m * 1048576 / (b - a) / 1e6}')
SHA_OPENSSL=$(openssl speed -evp sha256 -bytes 1048576 -seconds 3 2>/dev/null |
    awk '/^sha256/ {v = $NF; sub(/k$/, "", v); printf "%.0f", v * 1000 / 1e6}')
SHA_LIMIT=$(awk -v a="$SHA_SUM" -v b="${SHA_OPENSSL:-0}" 'BEGIN {print (a > b ? a : b)}')
rm -f "$WORK/limit-file"
DD_OUT=$(dd if=/dev/zero of="$WORK/dd-test" bs=8M count=$((BIG_MIB / 8)) conv=fsync 2>&1 | tail -1)
rm -f "$WORK/dd-test"
DD_MB=$(awk -v s="$(awk '{for (i = 1; i <= NF; i++) if ($i == "s,") print $(i - 1)}' <<<"$DD_OUT")" -v m="$BIG_MIB" \
    'BEGIN {printf "%.0f", m * 1048576 / s / 1e6}')
PUSH_LIMIT=$(awk -v a="$SHA_LIMIT" -v b="$DD_MB" 'BEGIN {print (a < b ? a : b)}')
log "SHA-256 one core: sha256sum $SHA_SUM MB/s, openssl $SHA_OPENSSL MB/s; dd write+fsync $DD_MB MB/s"

# ---------------------------------------------------------------- rounds
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then order=(berth dist nginx); else order=(dist berth nginx); fi
    has_secure && order+=(bsec)
    has manifest-log && order+=(blog)
    if has tls; then if ((round % 2)); then order+=(btls ntls); else order+=(ntls btls); fi; fi
    for who in "${order[@]}"; do
        log "round $round/$ROUNDS: ${LABEL[$who]}"
        run_round "$who" "$round"
    done
done

# ---------------------------------------------------------------- report
median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b}'; }
med() { median <<<"${RESULTS["$1|$2"]:-}"; }

figures=()
if has manifest; then for c in $CONNS; do figures+=("manifest c$c req/s" "manifest c$c p99 ms"); done; fi
has blob && figures+=("blob-1m c$BLOB_CONNS MB/s" "blob-1m c$BLOB_CONNS p99 ms" "blob-64m c$BLOB_CONNS MB/s")
has pull && figures+=("pull pull/s" "pull layer MB/s" "pull pull p50 ms" "pull pull p99 ms")
has pull-raw && figures+=("pull-raw pull/s" "pull-raw layer MB/s")
has small-blobs && figures+=("small-blobs blob-push/s" "small-blobs blob-push p99 ms")
has push-images && figures+=("push-images image-push/s" "push-images blob-push MB/s")
has big-push && figures+=("big-push big-push-mono MB/s each" "big-push big-push-chunked MB/s each")
has mixed && figures+=("mixed pull/s" "mixed image-push/s" "mixed layer MB/s")

echo "## Berth vs Distribution 2.8.2 (and nginx, and the machine's limits)"
echo
echo "- CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); host: $(uname -srm); $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo); filesystem: $(df -T "$WORK" | awk 'NR == 2 {print $2}')"
echo "- Berth $(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$REPO_DIR" && git diff --quiet 2>/dev/null || echo ' (dirty tree)'), defaults (fsyncs every blob); Distribution $("$REGISTRY_BIN" --version 2>/dev/null | awk '{print $NF}') (filesystem driver, no fsync); $("$NGINX_BIN" -v 2>&1 | awk '{print $NF}') (sendfile)"
echo "- load generators (wrk $WRK_THREADS threads, berth-load) share the cores with the server; $ROUNDS rounds alternating who goes first; medians shown; wrk runs $DURATION"
echo
printf '| %-36s | %10s | %12s | %8s | %10s | %8s |\n' figure Berth Distribution "B ÷ D" nginx "B ÷ nginx"
printf '|%s|%s|%s|%s|%s|%s|\n' "--------------------------------------" "------------" "--------------" "----------" "------------" "----------"
for f in "${figures[@]}"; do
    b=$(med berth "$f")
    d=$(med dist "$f")
    n=$(med nginx "$f")
    printf '| %-36s | %10s | %12s | %8s | %10s | %8s |\n' "$f" "$b" "$d" "$(ratio "$b" "$d")" "$n" "$(ratio "$b" "$n")"
done
echo
echo "Limits: single-core SHA-256 $SHA_LIMIT MB/s (sha256sum $SHA_SUM, openssl $SHA_OPENSSL); dd write + fsync $DD_MB MB/s."
if has big-push; then
    for m in mono chunked; do
        b=$(med berth "big-push big-push-$m MB/s each")
        echo "- Berth ${BIG_MIB} MiB push ($m): $b MB/s = $(ratio "$b" "$PUSH_LIMIT") × min(SHA-256, fsync'd write) = $PUSH_LIMIT MB/s (target ≥ 0.90)"
    done
fi
if has_secure || has tls || has manifest-log; then
    echo
    echo "### Security on, logging and TLS (Berth only; ratios to Berth security off / plain HTTP and to nginx)"
    echo
    echo "Security on and default logging are compared with the plain Berth measured in the same round (\`÷ ref\`: median of the per-round ratios); pulls and TLS with the plain Berth's medians."
    echo
    printf '| %-34s | %10s | %22s | %8s | %10s | %8s |\n' figure value "reference" "÷ ref" nginx "÷ nginx"
    printf '|%s|%s|%s|%s|%s|%s|\n' "------------------------------------" "------------" "------------------------" "----------" "------------" "----------"
    row() { # figure value reference-label reference nginx [paired ratio]
        printf '| %-34s | %10s | %22s | %8s | %10s | %8s |\n' "$1" "$2" "$3 $4" "${6:-$(ratio "$2" "$4")}" "$5" "$(ratio "$2" "$5")"
    }
    # Median over rounds of value ÷ reference, both taken in the same round.
    paired_ratio() { # who figure refwho reffigure
        local a=(${RESULTS["$1|$2"]:-}) b=(${RESULTS["$3|$4"]:-}) i out=""
        for ((i = 0; i < ${#a[@]} && i < ${#b[@]}; i++)); do out+=" $(ratio "${a[i]}" "${b[i]}")"; done
        median <<<"${out// -/}"
    }
    for c in $CONNS; do
        for a in token basic; do
            has "manifest-$a" || continue
            row "manifest c$c req/s, $a" "$(med bsec "manifest-$a c$c req/s")" "security off" \
                "$(med bref "manifest c$c req/s")" "$(med nginx "manifest c$c req/s")" \
                "$(paired_ratio bsec "manifest-$a c$c req/s" bref "manifest c$c req/s")"
        done
    done
    for a in token basic; do
        has "pull-$a" || continue
        row "pull (no verify) pull/s, $a" "$(med bsec "pull-$a pull/s")" "security off" "$(med berth "pull-raw pull/s")" ""
        row "pull (no verify) layer MB/s, $a" "$(med bsec "pull-$a layer MB/s")" "security off" "$(med berth "pull-raw layer MB/s")" ""
    done
    if has manifest-log; then
        for c in $CONNS; do
            row "manifest c$c req/s, default log" "$(med blog "manifest c$c req/s")" "level warn" \
                "$(med lref "manifest c$c req/s")" "$(med nginx "manifest c$c req/s")" \
                "$(paired_ratio blog "manifest c$c req/s" lref "manifest c$c req/s")"
        done
    fi
    if has tls; then
        for c in $CONNS; do
            row "TLS manifest c$c req/s" "$(med btls "tls manifest c$c req/s")" "plain HTTP" \
                "$(med berth "manifest c$c req/s")" "$(med ntls "tls manifest c$c req/s")"
        done
        row "TLS blob-64m c$BLOB_CONNS MB/s" "$(med btls "tls blob-64m c$BLOB_CONNS MB/s")" "plain HTTP" \
            "$(med berth "blob-64m c$BLOB_CONNS MB/s")" "$(med ntls "tls blob-64m c$BLOB_CONNS MB/s")"
        # CPU seconds per GB served = (CPU % ÷ 100) ÷ (MB/s ÷ 1000), over the blob run.
        cpu_per_gb() { awk -v c="$1" -v m="$2" 'BEGIN {if (c == "-" || m == "-" || m + 0 == 0) print "-"; else printf "%.2f", c / 100 / (m / 1000)}'; }
        bg=$(cpu_per_gb "$(med btls "tls-blob CPU %")" "$(med btls "tls blob-64m c$BLOB_CONNS MB/s")")
        ng=$(cpu_per_gb "$(med ntls "tls-blob CPU %")" "$(med ntls "tls blob-64m c$BLOB_CONNS MB/s")")
        row "TLS blob-64m CPU s per GB" "$bg" "" "" "$ng"
        suite() { openssl s_client -connect "${1#https://}" -tls1_3 </dev/null 2>/dev/null | awk '/Cipher is/ {print $NF; exit}'; }
        echo
        echo "TLS suites negotiated with wrk's OpenSSL defaults: Berth $(suite "${BASE[btls]}"), nginx $(suite "${BASE[ntls]}"); ECDSA P-256 certificate; CPU per GB counts the server process (nginx: master and workers)."
    fi
fi
echo
echo "CPU (% of one core, server process only) and peak RSS (MiB) per scenario, medians:"
echo
printf '| %-12s | %10s | %10s | %14s | %14s |\n' scenario "Berth CPU" "Dist CPU" "Berth RSS MiB" "Dist RSS MiB"
printf '|%s|%s|%s|%s|%s|\n' "--------------" "------------" "------------" "----------------" "----------------"
for s in $SCENARIOS; do
    case $s in manifest-token | manifest-basic | pull-token | pull-basic | manifest-log | tls) continue ;; esac # own table
    printf '| %-12s | %10s | %10s | %14s | %14s |\n' "$s" "$(med berth "$s CPU %")" "$(med dist "$s CPU %")" \
        "$(med berth "$s peak RSS MiB")" "$(med dist "$s peak RSS MiB")"
done
echo
errs() { for k in "${!RESULTS[@]}"; do [[ $k == "$1|"*errors ]] && echo ${RESULTS[$k]}; done | tr ' ' '\n' | awk '{n += $1} END {print n + 0}'; }
echo "Errors over all runs (non-2xx, socket errors, failed verifications): Berth $(errs berth) (and $(($(errs bref) + $(errs lref))) in the reference runs), Distribution $(errs dist), nginx $(errs nginx)$(has_secure && echo ", Berth security on $(errs bsec)")$(has manifest-log && echo ", Berth default logging $(errs blog)")$(has tls && echo ", Berth TLS $(errs btls), nginx TLS $(errs ntls)")."
echo
total_errors=0
for who in "${!LABEL[@]}"; do total_errors=$((total_errors + $(errs "$who" || true))); done
if ((total_errors > 0)); then
    KEEP=1 # the servers' logs and wrk's output say what failed
    log "errors seen: the work dir is kept"
fi
echo "<details><summary>Per-round values</summary>"
echo
for f in "${figures[@]}"; do
    echo "- $f: Berth${RESULTS["berth|$f"]:-}; Distribution${RESULTS["dist|$f"]:-}${RESULTS["nginx|$f"]:+; nginx${RESULTS["nginx|$f"]}}"
done
for k in "${!RESULTS[@]}"; do # the variants' figures (security on, logging, TLS)
    who=${k%%|*}
    [[ $who == bsec || $who == blog || $who == btls || $who == ntls || $who == bref || $who == lref ]] || continue
    if [[ $k == *" errors" ]]; then # shown only where something failed
        [[ ${RESULTS[$k]// 0/} =~ [1-9] ]] || continue
    elif ! [[ $k == *" req/s" || $k == *"pull/s" || $k == *"layer MB/s" || $k == *"blob-64m c"*" MB/s" ]]; then
        continue
    fi
    echo "- ${k#*|}: ${LABEL[$who]}${RESULTS[$k]}"
done | sort
echo
echo "</details>"
log "done in $(($(date +%s) - T0)) s"
