#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run the unit tests and the end-to-end tests against the
# release build (with the Python package built from the checkout by pip and tested in fresh venvs), then again
# with AddressSanitizer and UndefinedBehaviorSanitizer, then run every fuzz target over its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh

echo "== release build"
scripts/build.sh build
ctest --test-dir build --output-on-failure --parallel "$(nproc)"
PICKLEWALL_BIN="$PWD/build/picklewall" python3 -m pytest tests -q

echo "== ASan + UBSan build"
scripts/build.sh build-asan -DPICKLEWALL_SANITIZE=ON -DPICKLEWALL_BENCH=OFF
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build-asan --output-on-failure --parallel "$(nproc)"
# The package tests build their own (release) wheel with pip, so they would only repeat the first pass.
PICKLEWALL_BIN="$PWD/build-asan/picklewall" python3 -m pytest tests -q -p no:cacheprovider -m "not package"
for target in build-asan/fuzz/fuzz_*; do
  corpus="fuzz/corpus/$(basename "$target" | sed 's/^fuzz_//')"
  echo "$target over $corpus"
  "$target" "$corpus"/*
done
