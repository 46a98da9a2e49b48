#!/usr/bin/env bash
# Budgets against hostile input (issue 8): every hostile file of tests/fixtures/hostile.py (memo and DUP bombs,
# 10^6-deep nesting, absurd lengths, zip bombs) and every decompression bomb (gzip, zlib, bz2, xz, 7z, joblib),
# each scanned alone with the default limits: wall time, peak RSS and the finding that ended it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null
out=bench/out/hostile
rm -rf "$out" && mkdir -p "$out"
(cd tests && python3 -c "
import pathlib, sys
from fixtures.hostile import hostile_files, bomb_files
out = pathlib.Path('../$out')
for name, data in hostile_files().items():
    (out / name).write_bytes(data)
bomb_files(out)
")
printf '%-24s %10s %9s %10s  %s\n' file bytes wall_s peak_rss_mb "verdict: limit findings"
for input in "$out"/*; do
  [ "$(basename "$input")" = report.json ] && continue
  measured=$( { /usr/bin/time -f "%e %M" build/picklewall scan --no-hash -f json "$input" >"$out/report.json"; } 2>&1 | tail -1 ) || true
  read -r wall rss_kb <<<"$measured"
  summary=$(python3 -c "
import json
f = json.load(open('$out/report.json'))['files'][0]
limits = sorted({x['rule'] for x in f['findings'] if x['rule'].startswith('limit.') or x['rule'] == 'pickle.malformed'})
print(f['verdict'] + ': ' + ', '.join(limits))")
  printf '%-24s %10s %9s %10s  %s\n' "$(basename "$input")" "$(stat -c %s "$input")" "$wall" "$((rss_kb / 1024))" "$summary"
done
rm -f "$out/report.json"
