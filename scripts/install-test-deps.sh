#!/usr/bin/env bash
# Installs, with apt, the external programs the test suite drives (tests/clients):
#   skopeo        (skopeo copy/inspect against the registry)
#   tar, gzip     (used to build image layers; present on any Debian, checked anyway)
#   prometheus    (tests/metrics: a real Prometheus scrapes Berth and answers PromQL;
#                 promtool checks and unit-tests grafana/prometheus/berth-alerts.yml)
#   docker-compose (tests/metrics: `docker-compose config` validates docker-compose.yml)
#   nexus3-cli    (tests/first_hour: the community Nexus CLI, from PyPI, pinned, in a venv
#                 under ${BERTH_TEST_DEPS:-~/.cache/berth-test-deps}/nexus3-cli)
#   chromium, chromedriver (tests/ui: a headless browser driven over WebDriver)
#   postgresql    (tests/meta and tests/postgres: the PostgreSQL metadata backend against a
#                 private server started per test; Debian puts initdb/postgres under
#                 /usr/lib/postgresql/<version>/bin, not on PATH, so it is checked there)
#   garage        (tests/s3: a real S3 server; Garage 2.5.0 built once with `cargo install`
#                 into ${BERTH_TEST_DEPS:-~/.cache/berth-test-deps}/garage, ~20 min on 2 cores,
#                 reused on later runs; skipped when BERTH_GARAGE_BIN names a prebuilt binary)
# Idempotent: a program already on PATH is skipped, and `apt-get update` runs only when
# something is missing. Non-interactive (no standard input needed). Runs as root, or via
# `sudo -n` otherwise.
#
# Docker is NOT installed here: the docker tests need a running Docker Engine daemon that
# the machine provides; this script only warns when `docker info` fails.
# (Tests fail when a client is missing unless BERTH_SKIP_DOCKER=1 / BERTH_SKIP_SKOPEO=1 /
# BERTH_SKIP_PROMETHEUS=1 / BERTH_SKIP_POSTGRES=1.)
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# "command:package" pairs.
NEEDED=(
  "skopeo:skopeo"
  "tar:tar"
  "gzip:gzip"
  "prometheus:prometheus"
  "promtool:prometheus"
  "docker-compose:docker-compose"
  "docker-registry:docker-registry"
  "nginx:nginx-light"
  "openssl:openssl"
  "podman:podman"
  "python3:python3"
  "curl:curl"
  "chromium:chromium"
  "chromedriver:chromium-driver"
)

missing=()
for pair in "${NEEDED[@]}"; do
  cmd="${pair%%:*}"
  pkg="${pair#*:}"
  if command -v "$cmd" >/dev/null 2>&1; then
    echo "install-test-deps: $cmd already present ($(command -v "$cmd"))"
  else
    missing+=("$pkg")
  fi
done

# PostgreSQL's server binaries are not on PATH (Debian keeps one directory per version).
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "install-test-deps: postgresql already present ($(ls -d /usr/lib/postgresql/*/bin | tail -1))"
else
  missing+=("postgresql")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  else
    as_root=(sudo -n)
  fi
  echo "install-test-deps: installing ${missing[*]}"
  "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 update -q
  "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -q \
    --no-install-recommends "${missing[@]}" </dev/null
  for pair in "${NEEDED[@]}"; do
    cmd="${pair%%:*}"
    command -v "$cmd" >/dev/null 2>&1 || {
      echo "install-test-deps: $cmd is still missing after apt-get install" >&2
      exit 1
    }
  done
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || {
    echo "install-test-deps: initdb is still missing after apt-get install" >&2
    exit 1
  }
else
  echo "install-test-deps: nothing to install"
fi

# nexus3-cli from PyPI, pinned, in its own venv (python3-venv from apt if `venv` is missing).
NEXUS3_CLI_VERSION=4.1.8
deps_root="${BERTH_TEST_DEPS:-$HOME/.cache/berth-test-deps}"
nexus3_venv="$deps_root/nexus3-cli"
if "$nexus3_venv/bin/pip" show nexus3-cli 2>/dev/null | grep -qx "Version: $NEXUS3_CLI_VERSION"; then
  echo "install-test-deps: nexus3-cli $NEXUS3_CLI_VERSION already present ($nexus3_venv)"
else
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo -n); fi
    "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -q \
      --no-install-recommends python3-venv </dev/null
  fi
  rm -rf "$nexus3_venv"
  python3 -m venv "$nexus3_venv"
  "$nexus3_venv/bin/pip" install -q "nexus3-cli==$NEXUS3_CLI_VERSION"
  echo "install-test-deps: installed nexus3-cli $NEXUS3_CLI_VERSION in $nexus3_venv"
fi

# Garage (an S3 server written in Rust) for tests/s3. CI points BERTH_GARAGE_BIN at a prebuilt
# copy; otherwise it is built once into the cache directory and reused.
GARAGE_VERSION=2.5.0
garage_root="$deps_root/garage"
if [ -n "${BERTH_GARAGE_BIN:-}" ] && [ -x "$BERTH_GARAGE_BIN" ]; then
  echo "install-test-deps: garage already present ($BERTH_GARAGE_BIN, from BERTH_GARAGE_BIN)"
elif "$garage_root/bin/garage" --version 2>/dev/null | grep -q "cargo:$GARAGE_VERSION"; then
  echo "install-test-deps: garage $GARAGE_VERSION already present ($garage_root/bin/garage)"
else
  echo "install-test-deps: building garage $GARAGE_VERSION into $garage_root" \
    "(cargo install, about 20 minutes on 2 cores; done once, reused later)"
  cargo install garage --version "$GARAGE_VERSION" --locked --root "$garage_root" 2>&1 |
    while IFS= read -r line; do
      case "$line" in
        *Compiling*|*Installing*|*Installed*|*error*) echo "  garage: $line" ;;
      esac
    done
  "$garage_root/bin/garage" --version >/dev/null || {
    echo "install-test-deps: garage build failed (see above)" >&2
    exit 1
  }
  echo "install-test-deps: installed garage $GARAGE_VERSION in $garage_root"
fi

if ! docker info >/dev/null 2>&1; then
  echo "install-test-deps: warning: no reachable Docker daemon (docker info failed);" \
    "the docker client tests will fail unless BERTH_SKIP_DOCKER=1" >&2
fi
