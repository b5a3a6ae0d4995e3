#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ and runs each for SECONDS (default
# 60), one after the other; exits nonzero if any target crashed.
#
#   Tools/fuzz.sh [SECONDS] [TARGET...]      e.g. Tools/fuzz.sh 3600 fuzz-acpi
#
# Per target (Fuzz/.build is git-ignored):
#   corpus it grows   Fuzz/.build/corpus/<target>/  (seeded from Fuzz/Seeds/<target>/)
#   crash inputs      Fuzz/.build/crashes/<target>/crash-<sha1> (also leak-, timeout-, oom-)
#   full log          Fuzz/.build/logs/<target>.log
# Replay one input:   Fuzz/.build/release/<target> Fuzz/.build/crashes/<target>/crash-...
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz-dispatcher fuzz-manifest fuzz-linux fuzz-multiboot fuzz-acpi fuzz-e820 fuzz-svm-exit fuzz-int13)

# -assert-config Debug keeps the standard library's debug preconditions
# (unsafe-buffer bounds) in the optimized build; lld because gold fails on
# the sanitizer objects.
started=$(date +%s)
swift build --package-path Fuzz -c release \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -assert-config -Xswiftc Debug \
    -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld || exit 1
echo "fuzz: build took $(( $(date +%s) - started )) s"

# libFuzzer's own crash report (the Swift backtracer would print another).
# -timeout=30: the ACPI target may checksum a 16 MiB table (the largest
# the parser accepts) through the unspecialized fake memory: seconds here,
# milliseconds on the machine.
export SWIFT_BACKTRACE=enable=no
failed=0
for target in "${targets[@]}"; do
    corpus=Fuzz/.build/corpus/$target crashes=Fuzz/.build/crashes/$target log=Fuzz/.build/logs/$target.log
    mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
    Fuzz/.build/release/"$target" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=32768 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "Fuzz/Seeds/$target" >"$log" 2>&1
    status=$?
    runs=$(awk '/stat::number_of_executed_units/{print $2}' "$log")
    if [ $status -eq 0 ]; then
        echo "fuzz: $target: ${runs:-?} runs in $seconds s, no crash"
    else
        failed=1
        echo "fuzz: $target: FAILED (status $status) after ${runs:-?} runs; input in $crashes/, log $log:"
        grep -E "Fatal error|ERROR|SUMMARY|^    #[0-9] " "$log" | grep -v "libc.so\|fuzzer::" | head -20
    fi
done
echo "fuzz: total $(( $(date +%s) - started )) s"
exit $failed
