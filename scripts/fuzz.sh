#!/usr/bin/env bash
# Fuzzes Herold's parsers and renderers with cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Runs each target (default: all of `cargo fuzz list`) for SECONDS
# (default 600) from the seeds in fuzz/corpus/<target>, with a 10-second
# limit per input (a slower input counts as a hang) and 2 GiB of memory.
# Exits non-zero if any target crashed, hung or ran out of memory; the
# input that did it is in fuzz/artifacts/<target>/, its output in
# fuzz/logs/<target>.log. Reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -a -s none TARGET fuzz/artifacts/TARGET/FILE
#
# Stable Rust is enough: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z
# flags. cargo-fuzz is installed from crates.io if missing. Builds go to
# fuzz/target. Environment: FUZZ_JOBS (parallel targets, default 1),
# FUZZ_SANITIZER (default none: Herold has no unsafe code; "address" for
# ASan), FUZZ_NICE (niceness, default 10).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-600}
shift || true
if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [SECONDS] [TARGET...]" >&2
    exit 2
fi
JOBS=${FUZZ_JOBS:-1}
SANITIZER=${FUZZ_SANITIZER:-none}
NICE=${FUZZ_NICE:-10}
CARGO_FUZZ_VERSION=0.13.2

export RUSTC_BOOTSTRAP=1
# Overflow checks and debug assertions on: an overflow is a crash here.
BUILD_FLAGS=(-a -s "$SANITIZER" --codegen-units 16)

step() { printf '==> %s\n' "$*" >&2; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    step "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list)
fi

step "building ${#TARGETS[@]} fuzz targets"
nice -n "$NICE" cargo fuzz build "${BUILD_FLAGS[@]}"

mkdir -p fuzz/logs
run_one() {
    local target=$1
    local dicts=()
    case $target in
        telegram_update|whatsapp_webhook|matrix_event|receipts|provider_responses) dicts=(-dict=fuzz/dict/json.dict) ;;
        markdown_render) dicts=(-dict=fuzz/dict/markdown.dict) ;;
        image_strip|jpeg_tail) dicts=(-dict=fuzz/dict/jpeg.dict) ;;
        config_toml) dicts=(-dict=fuzz/dict/toml.dict) ;;
    esac
    mkdir -p "fuzz/corpus/$target"
    # -timeout: an input taking longer is a hang; -rss_limit_mb: more
    # memory is a crash.
    nice -n "$NICE" cargo fuzz run "${BUILD_FLAGS[@]}" "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "${dicts[@]}" \
        >"fuzz/logs/$target.log" 2>&1
}

failed=()
pids=()
names=()
for target in "${TARGETS[@]}"; do
    step "fuzzing $target for ${SECONDS_PER_TARGET}s"
    run_one "$target" &
    pids+=($!)
    names+=("$target")
    if [ "${#pids[@]}" -ge "$JOBS" ]; then
        if ! wait "${pids[0]}"; then failed+=("${names[0]}"); fi
        pids=("${pids[@]:1}")
        names=("${names[@]:1}")
    fi
done
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then failed+=("${names[$i]}"); fi
done

printf '%-20s %12s %8s %s\n' target executions exec/s result
for target in "${TARGETS[@]}"; do
    log=fuzz/logs/$target.log
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    result=ok
    if grep -q 'ERROR: libFuzzer: timeout' "$log"; then
        result=hang
    elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then
        result=out-of-memory
    elif grep -Eq 'ERROR: libFuzzer|panicked at|Test unit written' "$log"; then
        result=crash
    fi
    if [[ " ${failed[*]} " == *" $target "* ]] && [ "$result" = ok ]; then
        result="failed (see $log)"
    fi
    printf '%-20s %12s %8s %s\n' "$target" "${runs:-?}" "${speed:-?}" "$result"
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "all ${#TARGETS[@]} targets ran ${SECONDS_PER_TARGET}s without a crash or hang"
