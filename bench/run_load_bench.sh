#!/usr/bin/env bash
# Loading the 2.3 GB checkpoint of run_convert_bench.sh into memory from Python: picklewall.load (scan, then the
# restricted builder reading tensors into torch-allocated memory with the GIL released) against
# torch.load(weights_only=True), and what picklewall.guard() adds to a torch.load. Warm page cache, five rounds,
# each in a fresh process; the call is timed inside the process (imports excluded) and peak RSS taken by
# /usr/bin/time. The package is built from this checkout into bench/out/pyenv (pip install .).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
input=bench/out/checkpoint_2g.pt
[ -f "$input" ] || { echo "run bench/run_convert_bench.sh first: it writes $input"; exit 2; }
if [ ! -x bench/out/pyenv/bin/python ]; then
  python3 -m venv --system-site-packages bench/out/pyenv
fi
bench/out/pyenv/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps .
python=bench/out/pyenv/bin/python
size=$(stat -c %s "$input")
run() {  # name, python statement that loads PATH into `state`
  /usr/bin/time -f "  peak_rss_kb=%M" "$python" -c "
import sys, time, torch, picklewall
PATH = sys.argv[1]
started = time.perf_counter()
$2
elapsed = time.perf_counter() - started
total = sum(t.numel() for t in state.values())
print(f'$1 size=$size call_s={elapsed:.2f} tensors={len(state)} elements={total}', end='')
" "$input" 2>&1 | tr -d '\n'
  echo
}
cat "$input" >/dev/null
for round in 1 2 3 4 5; do
  echo "round $round"
  cat "$input" >/dev/null
  run "torch.load(weights_only=True)  " "state = torch.load(PATH, weights_only=True)"
  cat "$input" >/dev/null
  run "picklewall.load                " "state = picklewall.load(PATH)"
  cat "$input" >/dev/null
  run "guard + torch.load             " "
with picklewall.guard():
    state = torch.load(PATH, weights_only=True)"
done
# Same tensors from both.
"$python" -c "
import sys, torch, picklewall
a = torch.load(sys.argv[1], weights_only=True); b = picklewall.load(sys.argv[1])
assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
print('tensors identical')" "$input"
