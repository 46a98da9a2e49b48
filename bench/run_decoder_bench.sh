#!/usr/bin/env bash
# Decoder throughput and memory on the two inputs of bench/make_decoder_inputs.py; results go to stdout in the
# form recorded in bench/RESULTS.md. Single-threaded by construction.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null
python3 bench/make_decoder_inputs.py bench/out
for input in bench/out/opcode_dense.pkl bench/out/binbytes_1g.pkl; do
  build/bench/bench_decoder "$input" 5
  # The whole command as a user runs it (includes SHA-256 of the file and the report).
  /usr/bin/time -f "picklewall scan: wall_s=%e peak_rss_mb=%M(KiB)" build/picklewall scan -f json "$input" >/dev/null || true
done
