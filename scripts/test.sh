#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run the unit tests (with every fuzz target over its seeds
# and regression inputs) and the end-to-end tests (sandboxed workers and what kills them, no program started for
# any libarchive filter or format, the cost of every stage counted by callgrind, differential run against
# CPython, a soak of 10,000 hostile files and one with faults injected) against the release build (with the
# Python package built from the checkout by pip and tested in fresh venvs), then again with AddressSanitizer,
# UndefinedBehaviorSanitizer and LeakSanitizer (workers included; the cost counts, which valgrind makes, only in
# the release pass), then fuzz every target with libFuzzer for a bounded time (PICKLEWALL_FUZZ_SECONDS each,
# default 60).
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
PICKLEWALL_BIN="$PWD/build-asan/picklewall" python3 -m pytest tests -q -p no:cacheprovider -m "not package and not cost"

echo "== libFuzzer, ${PICKLEWALL_FUZZ_SECONDS:-60} s per target"
scripts/fuzz.sh "${PICKLEWALL_FUZZ_SECONDS:-60}"
