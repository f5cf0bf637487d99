#!/usr/bin/env bash
# Runs each fuzz harness for a bounded time on a copy of its seed corpus; fails on any finding.
#
#   tests/fuzz/run.sh [fuzz_jws fuzz_jwk ...]      (default: all eight)
#
# Environment:
#   FUZZ_SECONDS  seconds per fuzzer (default 60)
#   FUZZ_JOBS     fuzzers run at the same time (default 1; each uses one core)
#   FUZZ_OUT      build directory of build.sh (default tests/fuzz/out)
#
# A crash, a leak, an UBSan report, a timeout (one input taking over 25 s), running out of
# memory, or a harness invariant makes the run fail: the fuzzer's log is printed and the input
# is left in $FUZZ_OUT/run/<fuzzer>/artifacts/. Reproduce with:
#   $FUZZ_OUT/<fuzzer> $FUZZ_OUT/run/<fuzzer>/artifacts/crash-...
# Then, once fixed, add that file to tests/fuzz/corpus/<name>/ as a regression seed.
# One line per fuzzer summarises runs, coverage (edges "cov", features "ft"), corpus and exec/s.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_OUT:-$here/out}
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
all="fuzz_jws fuzz_json fuzz_jwk fuzz_discovery fuzz_bearer fuzz_claims fuzz_introspect fuzz_problem fuzz_dpop"
fuzzers=${*:-$all}

# Largest input per target: tokens a little over the 8 KiB cap (so the cap itself is exercised),
# key files up to 16 KiB (an 8192-bit RSA JWK Set with a few keys), text values 4 KiB.
max_len() {
    case "$1" in
    fuzz_jws|fuzz_introspect|fuzz_dpop) echo 10240 ;;
    fuzz_jwk) echo 16384 ;;
    *) echo 4096 ;;
    esac
}

case "$secs" in ''|*[!0-9]*) echo "run.sh: FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;; esac

export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:symbolize=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

run_one() {
    local f=$1 name=${1#fuzz_} work="$out/run/$1"
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    if [ ! -x "$out/$f" ]; then
        echo "$f: not built (run tests/fuzz/build.sh)" >"$work/log"
        echo 1 >"$work/rc"
        return
    fi
    cp -p "$here/corpus/$name/"* "$work/corpus/" 2>/dev/null || true
    "$out/$f" -max_total_time="$secs" -max_len="$(max_len "$f")" -timeout=25 -rss_limit_mb=2048 \
        -dict="$here/dict/jose.dict" -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
        "$work/corpus" >"$work/log" 2>&1
    echo $? >"$work/rc"
}

summary() {
    local f=$1 work="$out/run/$1" rc status runs eps rss cov ft corp
    rc=$(cat "$work/rc" 2>/dev/null || echo 1)
    status=OK
    if [ "$rc" != 0 ] || [ -n "$(ls -A "$work/artifacts" 2>/dev/null)" ] \
        || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|invariant failed|==ERROR|SUMMARY: ' "$work/log"; then
        status=FAIL
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$work/log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$work/log" | tail -1 | cut -d' ' -f2)
    corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$work/log" | tail -1 | cut -d' ' -f2)
    printf '%-15s %-4s %ss runs=%s cov=%s ft=%s corpus=%s exec/s=%s peak_rss=%sMB\n' \
        "$f" "$status" "$secs" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${eps:-?}" "${rss:-?}"
    if [ "$status" = FAIL ]; then
        echo "----- $f log (last 80 lines of $work/log)"
        tail -n 80 "$work/log"
        echo "----- artifacts: $(ls "$work/artifacts" 2>/dev/null | tr '\n' ' ')"
        return 1
    fi
}

running=0
for f in $fuzzers; do
    case " $all " in *" $f "*) ;; *) echo "run.sh: unknown fuzzer $f (known: $all)" >&2; exit 2 ;; esac
    run_one "$f" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

failed=0
echo "fuzz summary (${secs}s each, ASan+UBSan+LSan):"
for f in $fuzzers; do
    summary "$f" || failed=1
done
exit $failed
