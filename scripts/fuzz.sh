#!/usr/bin/env bash
# Coverage-guided fuzzing of every target with libFuzzer under AddressSanitizer and UndefinedBehaviorSanitizer.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 30 s each, every target, two at a time)
# Each target starts from its committed seeds (fuzz/corpus/<target>/) and regressions (fuzz/regressions/<target>/)
# with its dictionary (fuzz/dict/<target>.dict); the corpus it grows is kept in build-fuzz/corpus/<target>/ for
# the next run. Any crash, leak, timeout or out-of-memory fails the run and leaves its input in
# build-fuzz/artifacts/: turn it into a named regression input in fuzz/regressions/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(scan pickle joblib convert zip torch_legacy npy safetensors gguf channel)

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPICKLEWALL_LIBFUZZER=ON \
  -DPICKLEWALL_SANITIZE=ON -DPICKLEWALL_TESTS=OFF -DPICKLEWALL_BENCH=OFF -DPICKLEWALL_FUZZ_STANDALONE=OFF >/dev/null
# Quiet when it builds; the compiler's messages when it does not (ninja prints them on standard output).
if ! cmake --build build-fuzz --parallel "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >build-fuzz/build.log 2>&1; then
  grep -E 'error|FAILED' -A3 build-fuzz/build.log | head -60 >&2
  echo "fuzz.sh: the fuzz targets did not build (whole log: build-fuzz/build.log)" >&2
  exit 1
fi

mkdir -p build-fuzz/artifacts build-fuzz/logs
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

run_target() {
  local target="$1"
  local corpus="build-fuzz/corpus/$target"
  mkdir -p "$corpus"
  local seeds=("fuzz/corpus/$target")
  [ -d "fuzz/regressions/$target" ] && seeds+=("fuzz/regressions/$target")
  local status=0
  build-fuzz/fuzz/fuzz_"$target" "$corpus" "${seeds[@]}" -dict="fuzz/dict/$target.dict" \
    -max_total_time="$seconds" -timeout=25 -rss_limit_mb=3072 -malloc_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/artifacts/$target-" >"build-fuzz/logs/$target.log" 2>&1 || status=$?
  echo "$status" >"build-fuzz/logs/$target.status"
}

rm -f build-fuzz/logs/*.status
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do sleep 1; done
  run_target "$target" &
done
wait

failed=()
printf '%-14s %10s %8s %8s %8s  %s\n' target executions seconds edges features result
for target in "${targets[@]}"; do
  status=$(cat "build-fuzz/logs/$target.status")
  log="build-fuzz/logs/$target.log"
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  time=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "$seconds")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  if [ "$status" -eq 0 ]; then result=ok; else result="FAILED ($log)"; failed+=("$target"); fi
  printf '%-14s %10s %8s %8s %8s  %s\n' "$target" "$runs" "$time" "$cov" "$ft" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
  for target in "${failed[@]}"; do
    echo "== $target"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "build-fuzz/logs/$target.log" | head -20
  done
  exit 1
fi
