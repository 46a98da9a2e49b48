#!/usr/bin/env bash
# Peak RSS against pickle size (issue 7): opcode-dense pickles of 0.1, 0.4 and 1.6 GB (bench/make_memory_inputs.py)
# scanned with the default limits and with a small working-memory budget. Consumed input pages are released as
# the machine goes, so RSS follows the limits, not the file. Prints one line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null
python3 bench/make_memory_inputs.py bench/out
for input in bench/out/dense_0_1g.pkl bench/out/dense_0_4g.pkl bench/out/dense_1_6g.pkl; do
  for budget in "" "--max-memory-per-file 128MB"; do
    /usr/bin/time -f "$(basename "$input") ${budget:-default limits}: wall_s=%e peak_rss_kb=%M" \
      build/picklewall scan --no-hash -f json $budget "$input" > bench/out/memory_report.json || true
    python3 -c "import json,sys; f=json.load(open('bench/out/memory_report.json'))['files'][0]; print('  verdict', f['verdict'], [x['rule'] for x in f['findings']])"
  done
done
