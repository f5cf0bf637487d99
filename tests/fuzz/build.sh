#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with ASan + UBSan (LeakSanitizer included).
#
#   tests/fuzz/build.sh [out-dir]        (default: tests/fuzz/out, or $FUZZ_OUT)
#
# The core (src/*.c) is compiled into out/obj with the same flags as the harnesses, so libFuzzer
# sees its coverage and the sanitizers check it. Needs clang-14 and libclang-rt-14-dev, and the
# -dev packages of APR, APR-util, jansson, OpenSSL 3 and libcurl. Nothing outside out-dir is
# written; no configure run is needed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-${FUZZ_OUT:-$here/out}}
CC=${FUZZ_CC:-clang-14}
HARNESSES="fuzz_jws fuzz_json fuzz_jwk fuzz_discovery fuzz_bearer fuzz_claims fuzz_introspect fuzz_problem fuzz_dpop"

command -v "$CC" >/dev/null || { echo "build.sh: $CC not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
pkgs="apr-1 apr-util-1 jansson libcrypto libcurl"
pkg_cflags=$(pkg-config --cflags $pkgs)
pkg_libs=$(pkg-config --libs $pkgs)

san="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
common=(-g -O1 $san -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE
        -DCLAIMS_VERSION='"fuzz"' -I"$top/include" -I"$here" $pkg_cflags)
# harness code is ours: hold it to the project's warning flags
warn=(-Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wno-unused-parameter -Werror)

mkdir -p "$out/obj"

# The core, once. A per-file compile keeps the object list exactly src/*.c.
core_objs=()
for src in "$top"/src/*.c; do
    obj="$out/obj/core_$(basename "${src%.c}").o"
    "$CC" "${common[@]}" -c "$src" -o "$obj"
    core_objs+=("$obj")
done
"$CC" "${common[@]}" "${warn[@]}" -c "$here/fuzz_common.c" -o "$out/obj/fuzz_common.o"
"$CC" "${common[@]}" "${warn[@]}" -c "$here/fuzz_poolguard.c" -o "$out/obj/fuzz_poolguard.o"

for h in $HARNESSES; do
    "$CC" "${common[@]}" "${warn[@]}" -c "$here/$h.c" -o "$out/obj/$h.o"
    # the pool guard interposes apr_palloc for libapr's own calls too: export it dynamically
    "$CC" "${common[@]}" -o "$out/$h" "$out/obj/$h.o" "$out/obj/fuzz_common.o" "$out/obj/fuzz_poolguard.o" \
        "${core_objs[@]}" -Wl,--export-dynamic-symbol=apr_palloc $pkg_libs -ldl -lm
done

echo "build.sh: built $HARNESSES in $out"
