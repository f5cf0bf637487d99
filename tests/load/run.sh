#!/usr/bin/env bash
# Load, soak and fault scenarios of mod_claims (see tests/load/README.md): each starts real
# apache2 instances on 127.0.0.1 with the module of CLAIMS_BUILD_DIR, drives them with wrk,
# and prints a PASS or FAIL line with its figures, then how long it took.
#   tests/load/run.sh                     every scenario
#   tests/load/run.sh mixed-event soak    some of them
# Scenarios: mixed-event mixed-prefork soak soak-arena1 graceful-event graceful-prefork faults-discovery faults-jwks
# kid-flood.
# Exit status: 0 when every scenario passed, 1 otherwise.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=/usr/bin/python3
[ -x "$py" ] || py="${PYTHON3:-python3}"
export CLAIMS_SRC_DIR="${CLAIMS_SRC_DIR:-$(cd "$here/../.." && pwd)}"
export CLAIMS_BUILD_DIR="${CLAIMS_BUILD_DIR:-$CLAIMS_SRC_DIR}"
if [ ! -f "$CLAIMS_BUILD_DIR/.libs/mod_claims.so" ] && [ -z "${CLAIMS_MODULE:-}" ]; then
  echo "load/run.sh: $CLAIMS_BUILD_DIR/.libs/mod_claims.so not built" >&2
  exit 2
fi
if ! command -v wrk >/dev/null 2>&1; then
  echo "load/run.sh: wrk not found (apt-get install wrk)" >&2
  exit 2
fi
if [ "$#" -eq 0 ]; then
  set -- mixed-event mixed-prefork soak soak-arena1 graceful-event graceful-prefork faults-discovery faults-jwks \
    kid-flood
fi

# A bound on each scenario as a whole (the scenarios bound their own loops and wrk runs too).
limit_of() {
  case "$1" in
    soak*) echo 3600 ;;
    mixed-*) echo 1200 ;;
    *) echo 600 ;;
  esac
}

echo "mod_claims load tests: module ${CLAIMS_MODULE:-$CLAIMS_BUILD_DIR/.libs/mod_claims.so}," \
     "$(nproc) cores, $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(/usr/sbin/apache2 -v | head -1)"
failed=0
summary=()
for s in "$@"; do
  echo "== $s"
  start=$(date +%s)
  timeout --kill-after=30 "$(limit_of "$s")" "$py" "$here/load.py" "$s"
  rc=$?
  took=$(( $(date +%s) - start ))
  if [ "$rc" -eq 0 ]; then
    summary+=("PASS $s (${took} s)")
  else
    [ "$rc" -eq 124 ] && echo "FAIL $s: did not finish within $(limit_of "$s") s"
    summary+=("FAIL $s (${took} s, exit $rc)")
    failed=1
  fi
  echo "== $s took ${took} s"
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
