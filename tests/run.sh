#!/usr/bin/env bash
# The whole test suite: installs what the tests need, runs every test, stops what it started.
# Usage: bash tests/run.sh        (README's second command; .ci/run calls it)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slo-target}"
export CARGO_TERM_COLOR=never

# Debian packages and PyPI tools some tests use (idempotent; skipped when present).
need_apt=()
# (issue 5/6 add influxdb, prometheus, victoria-metrics, chromium here)
if [ ${#need_apt[@]} -gt 0 ] && [ "${SLO_TEST_NO_INSTALL:-0}" != 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=300 "${need_apt[@]}" >/dev/null 2>&1 \
      || echo "warning: could not install ${need_apt[*]}; tests that need them will say so" >&2
  fi
fi

cargo build --release --locked --bin slo
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "${TMPDIR:-/tmp}/slo-test.log"
status=${PIPESTATUS[0]}
exit "$status"
