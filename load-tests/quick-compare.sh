#!/usr/bin/env bash
# quick-compare.sh — a first side-by-side measurement of Berth and CNCF Distribution
# (docker-registry) on one machine, over loopback. Issue evidence, not the full load suite.
#
# What it does
#   1. Builds Berth (cargo build --release) unless SKIP_BUILD=1.
#   2. Starts Berth and docker-registry, each on a random free 127.0.0.1 port, each with
#      filesystem storage in its own temp dir (same filesystem, under $WORK_ROOT), delete
#      enabled, request logging off for both (Berth log level warn; Distribution level warn,
#      access log disabled) so the figures compare the servers, not their loggers.
#   3. Seeds both identically with curl: image bench/app, a 64 MiB random layer, a small
#      config, an OCI manifest tagged `bench` (a ~0.5 KiB manifest, used by the manifest test).
#   4. Interleaves ROUNDS rounds, alternating which registry goes first:
#        - wrk GET /v2/bench/app/manifests/bench (Accept: OCI manifest) at each of CONNS
#          connections for DURATION each;
#        - wrk GET of the 64 MiB blob with BLOB_CONNS connections for DURATION (MiB/s from
#          wrk's Transfer/sec).
#      Each registry gets a short WARMUP run before its first measurement.
#   5. Prints the median per figure and the ratio Berth ÷ Distribution (higher is better for
#      Berth on req/s and MiB/s; lower is better for latency).
#   6. Peak RSS: resets each server's peak (echo 5 > /proc/PID/clear_refs, root only), pushes
#      a PUSH_MIB random blob with one streamed curl request (POST …/blobs/uploads/?digest=
#      with Content-Length, when the registry completes a monolithic POST; else POST for a
#      session + PUT ?digest= streaming the file with -T),
#      then reads VmHWM from /proc/PID/status. Also prints the lifetime peak after the wrk runs.
#   Progress goes to stderr, the report to stdout. Processes and temp dirs are removed on exit.
#
# Usage
#   load-tests/quick-compare.sh                       # ≈ 6 min with the defaults
#   DURATION=5s ROUNDS=1 PUSH_MIB=256 load-tests/quick-compare.sh   # a smoke run
#
# Environment (defaults)
#   DURATION=10s  WARMUP=2s  ROUNDS=3  CONNS="64 256"  BLOB_CONNS=8  WRK_THREADS=$(nproc)
#   BLOB_MIB=64  PUSH_MIB=1024  WORK_ROOT=${TMPDIR:-/tmp}  KEEP=0 (1 keeps the temp dir)
#   BERTH_BIN (default target/release/berth)  REGISTRY_BIN (default docker-registry)
#   SKIP_BUILD=0
#
# Requires: bash, curl, wrk, sha256sum, python3 (free ports, JSON-free arithmetic), a Linux
# /proc. Every wrk run is bounded by DURATION (plus wrk's own --timeout), every curl by
# --max-time, and server start-up by a 30 s deadline.
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-"64 256"}
BLOB_CONNS=${BLOB_CONNS:-8}
WRK_THREADS=${WRK_THREADS:-$(nproc)}
BLOB_MIB=${BLOB_MIB:-64}
PUSH_MIB=${PUSH_MIB:-1024}
WORK_ROOT=${WORK_ROOT:-${TMPDIR:-/tmp}}
KEEP=${KEEP:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
REGISTRY_BIN=${REGISTRY_BIN:-docker-registry}

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTH_BIN=${BERTH_BIN:-$REPO_DIR/target/release/berth}
IMAGE=bench/app
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
OCI_CONFIG=application/vnd.oci.image.config.v1+json
OCI_LAYER=application/vnd.oci.image.layer.v1.tar
T0=$(date +%s)

log() { printf '[%4ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in curl wrk sha256sum python3 "$REGISTRY_BIN"; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install -y docker-registry wrk curl python3)"
done

WORK=$(mktemp -d "$WORK_ROOT/berth-quick-compare.XXXXXX")
declare -A PID=() PORT=() BASE=() MONOLITHIC_POST=()
REGS=(berth dist)
declare -A LABEL=([berth]=Berth [dist]=Distribution)

cleanup() {
    local status=$?
    for reg in "${!PID[@]}"; do
        kill "${PID[$reg]}" 2>/dev/null || true
    done
    for reg in "${!PID[@]}"; do
        wait "${PID[$reg]}" 2>/dev/null || true
    done
    if [[ $KEEP == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_ready() { # reg
    local reg=$1 deadline=$(($(date +%s) + 30))
    until curl -fsS --max-time 2 -o /dev/null "${BASE[$reg]}/v2/"; do
        kill -0 "${PID[$reg]}" 2>/dev/null || die "${LABEL[$reg]} exited; see $WORK/$reg.log"
        (($(date +%s) < deadline)) || die "${LABEL[$reg]} did not become ready; see $WORK/$reg.log"
        sleep 0.2
    done
}

# ---------------------------------------------------------------- build and start
if [[ $SKIP_BUILD != 1 ]]; then
    log "building Berth (release)…"
    (cd "$REPO_DIR" && cargo build --release --quiet) >&2
fi
[[ -x $BERTH_BIN ]] || die "no Berth binary at $BERTH_BIN"

start_berth() {
    PORT[berth]=$(free_port)
    BASE[berth]=http://127.0.0.1:${PORT[berth]}
    mkdir -p "$WORK/berth-data"
    BERTH_LOG__LEVEL=warn RUST_LOG= "$BERTH_BIN" --listen "127.0.0.1:${PORT[berth]}" \
        --data-dir "$WORK/berth-data" >"$WORK/berth.log" 2>&1 &
    PID[berth]=$!
}

start_dist() {
    PORT[dist]=$(free_port)
    BASE[dist]=http://127.0.0.1:${PORT[dist]}
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
  addr: 127.0.0.1:${PORT[dist]}
  secret: quick-compare-not-a-secret
EOF
    "$REGISTRY_BIN" serve "$WORK/dist-config.yml" >"$WORK/dist.log" 2>&1 &
    PID[dist]=$!
}

log "work dir $WORK"
start_berth
start_dist
for reg in "${REGS[@]}"; do
    wait_ready "$reg"
    log "${LABEL[$reg]} ready on ${BASE[$reg]} (pid ${PID[$reg]})"
done

# ---------------------------------------------------------------- seeding
sha() { sha256sum "$1" | cut -d' ' -f1; }

# push_blob REG FILE DIGEST: one streamed request when the registry completes a monolithic
# POST (?digest=), else POST for a session then PUT ?digest= with the body. Sets PUSH_CODE
# (not echoed: it must run in this shell so MONOLITHIC_POST sticks). The first push to each
# registry is the small config, so detecting the fallback never wastes a big upload.
PUSH_CODE=
push_blob() {
    local reg=$1 file=$2 digest=$3 url location sep
    local curl_up=(curl -sS --max-time 600 -o /dev/null -w '%{http_code}'
        -H 'Content-Type: application/octet-stream' -H 'Expect:')
    url="${BASE[$reg]}/v2/$IMAGE/blobs/uploads/"
    if [[ ${MONOLITHIC_POST[$reg]:-1} == 1 ]]; then
        # Streamed from stdin with an explicit Content-Length: `-T file` would append the
        # file name to a URL path ending in '/', and --data-binary @file loads the file into
        # curl's memory (and refuses 1 GiB).
        PUSH_CODE=$("${curl_up[@]}" -X POST -H "Content-Length: $(stat -c %s "$file")" \
            -H 'Transfer-Encoding:' -T - "$url?digest=sha256:$digest" <"$file")
        [[ $PUSH_CODE == 201 ]] && return
        [[ $PUSH_CODE == 202 ]] || die "${LABEL[$reg]}: monolithic POST answered $PUSH_CODE"
        MONOLITHIC_POST[$reg]=0 # it opened a session and ignored the body
        log "${LABEL[$reg]} does not complete a monolithic POST; using POST + PUT"
    fi
    location=$(curl -sS --max-time 30 -o /dev/null -D - -X POST "$url" |
        tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
    [[ -n $location ]] || die "${LABEL[$reg]}: no Location from POST"
    [[ $location == http* ]] || location="${BASE[$reg]}$location"
    sep='?'
    [[ $location == *\?* ]] && sep='&'
    PUSH_CODE=$("${curl_up[@]}" -X PUT -T "$file" "$location${sep}digest=sha256:$digest")
}

log "creating seed content (${BLOB_MIB} MiB layer)…"
head -c "$((BLOB_MIB << 20))" /dev/urandom >"$WORK/layer"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}' >"$WORK/config"
LAYER_DIGEST=$(sha "$WORK/layer")
CONFIG_DIGEST=$(sha "$WORK/config")
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"%s","digest":"sha256:%s","size":%d}]}' \
    "$OCI_MANIFEST" "$OCI_CONFIG" "$CONFIG_DIGEST" "$(stat -c %s "$WORK/config")" \
    "$OCI_LAYER" "$LAYER_DIGEST" "$(stat -c %s "$WORK/layer")" >"$WORK/manifest"
MANIFEST_DIGEST=$(sha "$WORK/manifest")

for reg in "${REGS[@]}"; do
    for f in config layer; do
        d=$(sha "$WORK/$f")
        push_blob "$reg" "$WORK/$f" "$d"
        [[ $PUSH_CODE == 201 ]] || die "${LABEL[$reg]}: pushing $f answered $PUSH_CODE"
    done
    code=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X PUT \
        -H "Content-Type: $OCI_MANIFEST" --data-binary "@$WORK/manifest" \
        "${BASE[$reg]}/v2/$IMAGE/manifests/bench")
    [[ $code == 201 ]] || die "${LABEL[$reg]}: PUT manifest answered $code"
    # Both must serve the same bytes before anything is measured.
    got=$(curl -fsS --max-time 30 -H "Accept: $OCI_MANIFEST" "${BASE[$reg]}/v2/$IMAGE/manifests/bench" | sha256sum | cut -d' ' -f1)
    [[ $got == "$MANIFEST_DIGEST" ]] || die "${LABEL[$reg]} serves a different manifest"
    got=$(curl -fsS --max-time 120 "${BASE[$reg]}/v2/$IMAGE/blobs/sha256:$LAYER_DIGEST" | sha256sum | cut -d' ' -f1)
    [[ $got == "$LAYER_DIGEST" ]] || die "${LABEL[$reg]} serves a different layer"
    log "${LABEL[$reg]} seeded: manifest sha256:${MANIFEST_DIGEST:0:12}…, layer sha256:${LAYER_DIGEST:0:12}…"
done

# ---------------------------------------------------------------- wrk runs
# to_ms VALUE: wrk latency ("812.00us", "1.23ms", "2.01s") in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}
# to_mib VALUE: wrk Transfer/sec ("1.23GB", "512.00MB") in MiB/s (wrk uses 1024 units).
to_mib() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "B") n /= 1048576; else if (u == "KB") n /= 1024; else if (u == "GB") n *= 1024
        else if (u == "TB") n *= 1048576
        printf "%.1f", n }'
}

declare -A RESULTS=() # "reg|figure" -> space-separated values, one per round

record() { RESULTS["$1|$2"]="${RESULTS["$1|$2"]:-} $3"; }

# run_wrk REG NAME CONNS DURATION URL [HEADER]: runs wrk, records figures under NAME.
run_wrk() {
    local reg=$1 name=$2 conns=$3 duration=$4 url=$5 hdr=${6:-} out rps tps p50 p99 errs
    local args=(-t "$WRK_THREADS" -c "$conns" -d "$duration" --timeout 10s --latency)
    ((conns < WRK_THREADS)) && args[1]=$conns
    [[ -n $hdr ]] && args+=(-H "$hdr")
    out=$(wrk "${args[@]}" "$url" 2>&1) || die "wrk failed: $out"
    [[ $name == warmup ]] && return
    echo "$out" >>"$WORK/wrk-$reg.txt"
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    tps=$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
    record "$reg" "$name req/s" "$rps"
    record "$reg" "$name p50 ms" "$(to_ms "$p50")"
    record "$reg" "$name p99 ms" "$(to_ms "$p99")"
    record "$reg" "$name errors" "$errs"
    [[ $name == blob* ]] && record "$reg" "$name MiB/s" "$(to_mib "$tps")"
    log "  ${LABEL[$reg]}: $name: $rps req/s, $(to_mib "$tps") MiB/s, p50 $p50, p99 $p99, errors $errs"
}

manifest_url() { echo "${BASE[$1]}/v2/$IMAGE/manifests/bench"; }
blob_url() { echo "${BASE[$1]}/v2/$IMAGE/blobs/sha256:$LAYER_DIGEST"; }

for reg in "${REGS[@]}"; do
    log "warm-up ${LABEL[$reg]} ($WARMUP)"
    run_wrk "$reg" warmup 16 "$WARMUP" "$(manifest_url "$reg")" "Accept: $OCI_MANIFEST"
    run_wrk "$reg" warmup 2 "$WARMUP" "$(blob_url "$reg")"
done

for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then order=(berth dist); else order=(dist berth); fi
    for reg in "${order[@]}"; do
        log "round $round/$ROUNDS: ${LABEL[$reg]}"
        for c in $CONNS; do
            run_wrk "$reg" "manifest c$c" "$c" "$DURATION" "$(manifest_url "$reg")" "Accept: $OCI_MANIFEST"
        done
        run_wrk "$reg" "blob c$BLOB_CONNS" "$BLOB_CONNS" "$DURATION" "$(blob_url "$reg")"
    done
done

# ---------------------------------------------------------------- peak RSS during a push
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

declare -A RSS_IDLE=() RSS_LIFETIME=() RSS_PUSH=() PUSH_SECS=() PUSH_NOTE=()
for reg in "${REGS[@]}"; do
    RSS_LIFETIME[$reg]=$(status_kb "${PID[$reg]}" VmHWM)
done

log "creating the ${PUSH_MIB} MiB push file…"
head -c "$((PUSH_MIB << 20))" /dev/urandom >"$WORK/push"
PUSH_DIGEST=$(sha "$WORK/push")
for reg in berth dist; do
    RSS_IDLE[$reg]=$(status_kb "${PID[$reg]}" VmRSS)
    if echo 5 >"/proc/${PID[$reg]}/clear_refs" 2>/dev/null; then
        PUSH_NOTE[$reg]="peak reset before the push"
    else
        PUSH_NOTE[$reg]="could not reset the peak (not root?): lifetime peak"
    fi
    log "pushing ${PUSH_MIB} MiB to ${LABEL[$reg]}…"
    start=$(date +%s.%N)
    push_blob "$reg" "$WORK/push" "$PUSH_DIGEST"
    [[ $PUSH_CODE == 201 ]] || die "${LABEL[$reg]}: ${PUSH_MIB} MiB push answered $PUSH_CODE"
    PUSH_SECS[$reg]=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    RSS_PUSH[$reg]=$(status_kb "${PID[$reg]}" VmHWM)
    log "  ${LABEL[$reg]}: ${PUSH_SECS[$reg]} s, peak RSS $((RSS_PUSH[$reg] / 1024)) MiB"
done
rm -f "$WORK/push"

# ---------------------------------------------------------------- report
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0) print "-"; else printf "%.2f", a / b}'; }

figures=()
for c in $CONNS; do
    figures+=("manifest c$c req/s" "manifest c$c p50 ms" "manifest c$c p99 ms")
done
figures+=("blob c$BLOB_CONNS MiB/s" "blob c$BLOB_CONNS p99 ms")

echo "## Berth vs Distribution — quick compare"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); host: $(uname -srm); nproc: $(nproc); $(awk '/MemTotal/ {printf "RAM %.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "- CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "- Berth: $("$BERTH_BIN" --version 2>/dev/null || echo '?') ($(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$REPO_DIR" && git diff --quiet 2>/dev/null || echo ', dirty tree')), workers = nproc; Distribution: $("$REGISTRY_BIN" --version 2>/dev/null | awk '{print $NF}')"
echo "- wrk $WRK_THREADS threads on the same machine (load generator and server share the cores); $ROUNDS rounds alternating registries, $DURATION per run; medians shown"
echo "- manifest: GET /v2/$IMAGE/manifests/bench with Accept $OCI_MANIFEST ($(stat -c %s "$WORK/manifest") bytes); blob: GET of a ${BLOB_MIB} MiB layer"
echo
printf '| %-22s | %12s | %12s | %15s |\n' figure Berth Distribution "Berth ÷ Dist"
printf '|%s|%s|%s|%s|\n' "------------------------" "--------------" "--------------" "-----------------"
for f in "${figures[@]}"; do
    b=$(median <<<"${RESULTS["berth|$f"]:-}")
    d=$(median <<<"${RESULTS["dist|$f"]:-}")
    printf '| %-22s | %12s | %12s | %15s |\n' "$f" "$b" "$d" "$(ratio "$b" "$d")"
done
echo
echo "Per-round values (round 1, 2, …):"
echo
for f in "${figures[@]}"; do
    [[ -n ${RESULTS["berth|$f"]:-} ]] || continue
    echo "- $f: Berth${RESULTS["berth|$f"]}; Distribution${RESULTS["dist|$f"]}"
done
errs_b=$(for c in $CONNS "$BLOB_CONNS"; do echo ${RESULTS["berth|manifest c$c errors"]:-} ${RESULTS["berth|blob c$c errors"]:-}; done | tr ' ' '\n' | awk '{n += $1} END {print n + 0}')
errs_d=$(for c in $CONNS "$BLOB_CONNS"; do echo ${RESULTS["dist|manifest c$c errors"]:-} ${RESULTS["dist|blob c$c errors"]:-}; done | tr ' ' '\n' | awk '{n += $1} END {print n + 0}')
echo "- errors (non-2xx + socket errors, all runs): Berth $errs_b; Distribution $errs_d"
echo
echo "Memory (KiB from /proc/PID/status):"
echo
printf '| %-44s | %12s | %12s | %12s |\n' "" Berth Distribution "Berth ÷ Dist"
printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "--------------" "--------------" "--------------"
printf '| %-44s | %12s | %12s | %12s |\n' "VmHWM after the wrk runs (lifetime peak)" "${RSS_LIFETIME[berth]}" "${RSS_LIFETIME[dist]}" "$(ratio "${RSS_LIFETIME[berth]}" "${RSS_LIFETIME[dist]}")"
printf '| %-44s | %12s | %12s | %12s |\n' "VmRSS before the push" "${RSS_IDLE[berth]}" "${RSS_IDLE[dist]}" "$(ratio "${RSS_IDLE[berth]}" "${RSS_IDLE[dist]}")"
printf '| %-44s | %12s | %12s | %12s |\n' "VmHWM during the ${PUSH_MIB} MiB push" "${RSS_PUSH[berth]}" "${RSS_PUSH[dist]}" "$(ratio "${RSS_PUSH[berth]}" "${RSS_PUSH[dist]}")"
printf '| %-44s | %12s | %12s | %12s |\n' "push wall time, s (incl. digest check, fsync)" "${PUSH_SECS[berth]}" "${PUSH_SECS[dist]}" "$(ratio "${PUSH_SECS[berth]}" "${PUSH_SECS[dist]}")"
echo
echo "- Berth: ${PUSH_NOTE[berth]}; push as $( [[ ${MONOLITHIC_POST[berth]:-1} == 1 ]] && echo 'one monolithic POST ?digest=' || echo 'POST + PUT ?digest=')"
echo "- Distribution: ${PUSH_NOTE[dist]}; push as $( [[ ${MONOLITHIC_POST[dist]:-1} == 1 ]] && echo 'one monolithic POST ?digest=' || echo 'POST + PUT ?digest= (it ignores a POST body)')"
log "done in $(($(date +%s) - T0)) s"
