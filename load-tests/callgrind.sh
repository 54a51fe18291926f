#!/usr/bin/env bash
# callgrind.sh — CPU instructions per warm manifest GET by tag, measured with valgrind's
# callgrind. Instruction counts do not depend on the machine's load, so this figure is
# comparable between runs on a busy host where req/s are noise.
#
# What it does
#   1. Starts Berth under `valgrind --tool=callgrind` with one worker (BERTH_WORKERS=1) and
#      request logging at warn, security as AUTH says.
#   2. Seeds one small image with `berth-load seed`, warms the path with WARM GETs.
#   3. Zeroes the counters, sends FEW GETs on one keep-alive connection (curl), dumps; zeroes,
#      sends FEW + N GETs, dumps. (second − first) ÷ N is the cost of one request, without
#      the fixed costs (idle timers, the connection).
#   4. Prints instructions/request and the top functions of the second dump, inclusive and
#      self (callgrind_annotate), per request.
#
# Usage
#   load-tests/callgrind.sh                        # security off
#   AUTH=token load-tests/callgrind.sh             # a bearer token on every request
#   AUTH=basic load-tests/callgrind.sh             # Basic on every request (verified-credential cache)
#   N=2000 FEW=100 TOP=40 KEEP=1 BERTH_BIN=… LOAD_BIN=…
#   LEVEL=info BERTH_LOG__ACCESS=off load-tests/callgrind.sh   # the default log level, access log off
#
# Build a binary with line tables first (the release profile has them):
#   cargo build --release --bin berth --bin berth-load
# Requires: valgrind, curl, python3.
set -euo pipefail

N=${N:-2000}
FEW=${FEW:-100}
WARM=${WARM:-50}
TOP=${TOP:-40}
AUTH=${AUTH:-off}
KEEP=${KEEP:-0}
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTH_BIN=${BERTH_BIN:-$REPO_DIR/target/release/berth}
LOAD_BIN=${LOAD_BIN:-$REPO_DIR/target/release/berth-load}
IMAGE=load/app
TAG=v1
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
ADMIN_PASSWORD=callgrind-admin-password

log() { printf '[callgrind] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for tool in valgrind callgrind_annotate callgrind_control curl python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install -y valgrind curl python3)"
done
[[ -x $BERTH_BIN && -x $LOAD_BIN ]] || die "no binaries ($BERTH_BIN, $LOAD_BIN)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-callgrind.XXXXXX")
VG_PID=
cleanup() {
    local status=$?
    [[ -n $VG_PID ]] && { kill "$VG_PID" 2>/dev/null || true; wait "$VG_PID" 2>/dev/null || true; }
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
BASE=http://127.0.0.1:$PORT
security_env=(BERTH_SECURITY__ENABLED=false)
if [[ $AUTH != off ]]; then
    security_env=(BERTH_SECURITY__ENABLED=true BERTH_SECURITY__INITIAL_ADMIN_PASSWORD=$ADMIN_PASSWORD
        BERTH_SECURITY__TOKEN_TTL_SECS=86400)
fi
mkdir -p "$WORK/data"
env -u BERTH_BIN -u RUST_LOG BERTH_WORKERS=1 BERTH_LOG__LEVEL="${LEVEL:-warn}" "${security_env[@]}" \
    valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" \
    "$BERTH_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/berth.log" 2>&1 &
VG_PID=$!
deadline=$(($(date +%s) + 300))
until curl -s --max-time 5 -o /dev/null "$BASE/healthz"; do
    kill -0 "$VG_PID" 2>/dev/null || die "berth exited: $(tail -5 "$WORK/berth.log")"
    (($(date +%s) < deadline)) || die "berth did not start under valgrind"
    sleep 1
done
log "berth up under callgrind on $BASE (AUTH=$AUTH)"

creds=()
[[ $AUTH != off ]] && creds=(--user admin)
BERTH_LOAD_PASSWORD=$ADMIN_PASSWORD "$LOAD_BIN" --url "$BASE" --progress 0 "${creds[@]}" \
    seed --repo "$IMAGE" --tag "$TAG" --layers 4K >/dev/null 2>"$WORK/seed.log" ||
    die "seeding failed: $(cat "$WORK/seed.log")"

header=()
case $AUTH in
off) ;;
basic) header=(-H "Authorization: Basic $(printf 'admin:%s' "$ADMIN_PASSWORD" | base64 -w0)") ;;
token)
    curl -fsS -u "admin:$ADMIN_PASSWORD" -X PUT "$BASE/service/rest/v1/security/realms/active" \
        -H 'Content-Type: application/json' \
        -d '["NexusAuthenticatingRealm","NexusAuthorizingRealm","DockerToken"]' ||
        die "cannot activate the DockerToken realm"
    token=$(curl -fsS -u "admin:$ADMIN_PASSWORD" \
        "$BASE/v2/token?service=berth&scope=repository:$IMAGE:pull" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("token") or d["access_token"])')
    header=(-H "Authorization: Bearer $token")
    ;;
*) die "AUTH is off, basic or token" ;;
esac

gets() { # count: that many GETs on one keep-alive connection, every one must be a 200
    local cfg="$WORK/curl-$1.cfg" i
    : >"$cfg"
    for ((i = 0; i < $1; i++)); do
        printf 'url = "%s"\noutput = "/dev/null"\n' "$BASE/v2/$IMAGE/manifests/$TAG" >>"$cfg"
    done
    curl -sS --fail-early -f -H "Accept: $OCI_MANIFEST" "${header[@]}" -K "$cfg" \
        -w '%{http_code}\n' >"$WORK/codes" || die "a GET failed: $(sort "$WORK/codes" | uniq -c)"
    [[ $(grep -c '^200$' "$WORK/codes") == "$1" ]] || die "not every GET answered 200: $(sort "$WORK/codes" | uniq -c)"
}

instructions() { # the newest dump's total instructions
    local f
    f=$(ls -t "$WORK"/callgrind.out.* | head -1)
    awk '/^(summary|totals):/ {print $2; exit}' "$f"
}

gets "$WARM"
callgrind_control -z "$VG_PID" >/dev/null
gets "$FEW"
callgrind_control -d "$VG_PID" >/dev/null
I_FEW=$(instructions)
callgrind_control -z "$VG_PID" >/dev/null
gets "$((FEW + N))"
callgrind_control -d "$VG_PID" >/dev/null
I_MANY=$(instructions)
DUMP=$(ls -t "$WORK"/callgrind.out.* | head -1)
PER=$(((I_MANY - I_FEW) / N))

echo "## Instructions per warm manifest GET by tag (callgrind, AUTH=$AUTH)"
echo
echo "- Berth $(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?'), $(basename "$BERTH_BIN") at $BERTH_BIN; one worker; $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "- $FEW GETs: $I_FEW instructions; $((FEW + N)) GETs: $I_MANY; **$PER instructions per request**"
echo
for kind in inclusive self; do
    echo "### Top $TOP by $kind cost (instructions per request)"
    echo
    echo '```'
    flag=--inclusive=no
    [[ $kind == inclusive ]] && flag=--inclusive=yes
    callgrind_annotate "$flag" --threshold=100 "$DUMP" 2>/dev/null |
        awk -v n="$((FEW + N))" -v top="$TOP" '
            /^[ ]*[0-9,]+ .*[^ ]:/ && shown < top {
                v = $1; gsub(/,/, "", v); $1 = ""
                printf "%10.0f %s\n", v / n, $0; shown++ }'
    echo '```'
    echo
done
