#!/usr/bin/env bash
# Runs the integration suite with Debian's python3 (python3-pytest, -requests, -jwcrypto).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON3:-/usr/bin/python3}"
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
export CLAIMS_SRC_DIR="${CLAIMS_SRC_DIR:-$(cd "$here/../.." && pwd)}"
export CLAIMS_BUILD_DIR="${CLAIMS_BUILD_DIR:-$CLAIMS_SRC_DIR}"
if [ ! -f "$CLAIMS_BUILD_DIR/.libs/mod_claims.so" ] && [ -z "${CLAIMS_MODULE:-}" ]; then
  echo "run.sh: $CLAIMS_BUILD_DIR/.libs/mod_claims.so not built" >&2
  exit 1
fi
cd "$here"
# with no arguments: the whole suite, and the interop harness's own tests (real oidc-provider)
if [ "$#" -eq 0 ]; then set -- "$here" "$here/../interop"; fi
exec "$py" -m pytest -p no:cacheprovider -q -ra "$@"
