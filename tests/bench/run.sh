#!/usr/bin/env bash
# The mod_claims benchmark (`make bench`): compiles its two helpers (bare_verify.c against
# libcrypto, cg_control.c as an httpd module), then runs bench.py against the module already
# built in CLAIMS_BUILD_DIR. It builds nothing of mod_claims itself. See README.md here.
#
# Environment: CLAIMS_BUILD_DIR (default: the source tree), CLAIMS_MODULE (default
# $CLAIMS_BUILD_DIR/.libs/mod_claims.so), BENCH_RESULTS_DIR (default tests/bench/results),
# BENCH_KEEP=1 keeps the scratch directory; BENCH_N1, BENCH_N2, BENCH_WARMUP, BENCH_WRK_SECONDS,
# BENCH_WRK_THREADS, BENCH_WRK_CONNECTIONS, BENCH_JOBS, BENCH_PEERS=none, BENCH_SENDER=0 (skips the
# DPoP and certificate-bound scenario, sender.py): see README.md.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
build="${CLAIMS_BUILD_DIR:-$src}"
module="${CLAIMS_MODULE:-$build/.libs/mod_claims.so}"
results="${BENCH_RESULTS_DIR:-$here/results}"
py=/usr/bin/python3
cc="${CC:-cc}"

die() { echo "bench: $*" >&2; exit 1; }

[ -f "$module" ] || die "$module is not built: run make first (or set CLAIMS_BUILD_DIR)"
for tool in apache2 valgrind callgrind_annotate wrk "$cc" pkg-config; do
  command -v "$tool" >/dev/null 2>&1 \
    || die "$tool not found (apt-get install -y apache2 valgrind wrk build-essential pkg-config)"
done
[ -f /usr/include/valgrind/callgrind.h ] || die "valgrind's headers are missing (apt-get install -y valgrind)"
"$py" -c 'import jwcrypto, cryptography' 2>/dev/null || die "python3-jwcrypto missing (apt-get install -y python3-jwcrypto)"
# bench.py starts its servers through the integration suite's conftest.py, which imports these
"$py" -c 'import pytest, requests' 2>/dev/null \
  || die "python3-pytest or python3-requests missing (apt-get install -y python3-pytest python3-requests)"
apache_inc="$(apxs -q INCLUDEDIR 2>/dev/null || echo /usr/include/apache2)"
[ -f "$apache_inc/httpd.h" ] || die "httpd headers missing (apt-get install -y apache2-dev)"

work="$(mktemp -d "${TMPDIR:-/tmp}/claims-bench.XXXXXX")"
chmod 755 "$work"  # the httpd children (User nobody) read keys and documents below it
cleanup() {
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: scratch kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# shellcheck disable=SC2046 # pkg-config prints several words on purpose
"$cc" -O2 -std=c11 -Wall -Wextra -o "$work/bare_verify" "$here/bare_verify.c" $(pkg-config --cflags --libs libcrypto)
# shellcheck disable=SC2046
"$cc" -O2 -Wall -fPIC -shared -o "$work/mod_bench_cg.so" "$here/cg_control.c" -I"$apache_inc" $(pkg-config --cflags apr-1)

"$py" "$here/bench.py" --work "$work" --module "$(cd "$(dirname "$module")" && pwd)/$(basename "$module")" \
  --bare "$work/bare_verify" --cg-module "$work/mod_bench_cg.so" --results "$results" --src "$src"
