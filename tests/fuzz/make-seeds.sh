#!/usr/bin/env bash
# Writes the seed corpora tests/fuzz/corpus/<fuzzer>/ with gen_seeds.c: valid tokens for the
# harnesses' deterministic test keys, key files in every supported format, metadata documents,
# Authorization values, claim paths. Files of the same name are overwritten; others (regression
# inputs added from fuzzer findings) are kept. ECDSA and RSA-PSS seeds are randomised, so they
# change on every run while staying valid: regenerate only when the seeds need to change.
#
#   tests/fuzz/make-seeds.sh [corpus-dir]     (default: tests/fuzz/corpus)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$here/out}
corpus=${1:-$here/corpus}
CC=${FUZZ_CC:-clang-14}
pkgs="apr-1 apr-util-1 jansson libcrypto libcurl"

mkdir -p "$out"
"$CC" -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -std=c11 -D_GNU_SOURCE \
    -Wall -Wextra -Werror -Wno-unused-parameter -I"$top/include" -I"$here" $(pkg-config --cflags $pkgs) \
    -o "$out/gen_seeds" "$here/gen_seeds.c" "$here/fuzz_common.c" "$top/src/claims_alg.c" $(pkg-config --libs $pkgs)
"$out/gen_seeds" "$corpus"
