#!/usr/bin/env bash
# The price of worker isolation (issue "Fail closed"): the hub corpus (bench/hub/make_corpus.py, about 2,030 files
# and 5.4 GB) scanned by sandboxed worker processes (the default) and in the command's own threads
# (--no-sandbox, what every scan did before), with and without SHA-256, one and two at a time; then the cost of
# one call from Python, with a warm engine, in each mode. Best of seven runs, taken in turns, on a warm page cache. Prints the
# Markdown tables kept in bench/RESULTS.md. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null
python3 bench/hub/make_corpus.py bench/out/hub_corpus
find bench/out/hub_corpus -type f -exec cat {} + > /dev/null  # warm page cache for every mode alike
python3 - <<'EOF'
import subprocess, time

CORPUS = "bench/out/hub_corpus"
BINARY = "build/picklewall"


def best_of_each(first, second, runs=7):
    """Best time of each command, run in turns (so a machine that drifts slower or faster favours neither)."""
    times = ([], [])
    for _ in range(runs):
        for command, kept in ((first, times[0]), (second, times[1])):
            started = time.monotonic()
            completed = subprocess.run(command, capture_output=True)
            kept.append(time.monotonic() - started)
            assert completed.returncode in (0, 1), completed.stderr[-2000:]
    return min(times[0]), min(times[1])


files = int(subprocess.run(["find", CORPUS, "-type", "f"], capture_output=True, text=True).stdout.count("\n"))
print(f"corpus: {files} files\n")
print("| run | in-process (`--no-sandbox`) | sandboxed workers | files/s in / workers | price of isolation |")
print("|---|---|---|---|---|")
for jobs in ("1", "2"):
    for hashing in ([], ["--no-hash"]):
        base = [BINARY, "scan", "-f", "json", "--progress", "never", "-j", jobs, *hashing, CORPUS]
        inside, workers = best_of_each(base[:2] + ["--no-sandbox"] + base[2:], base)
        label = f"`-j {jobs}`" + (" `--no-hash`" if hashing else " (SHA-256 of every byte)")
        print(f"| {label} | {inside:.2f} s | {workers:.2f} s | {files / inside:,.0f} / {files / workers:,.0f} | "
              f"{(workers / inside - 1) * 100:+.1f}% |")
EOF
# The Python package as users get it: built by pip from this checkout into a venv of its own.
if [ ! -x bench/out/package-venv/bin/python ]; then python3 -m venv bench/out/package-venv; fi
bench/out/package-venv/bin/pip install --quiet --disable-pip-version-check --force-reinstall --no-deps .
bench/out/package-venv/bin/python - <<'EOF'
import os, pickle, tempfile, time
import picklewall

folder = tempfile.mkdtemp()
path = os.path.join(folder, "small.pkl")
with open(path, "wb") as handle:
    pickle.dump({"weights": [0.5] * 64, "name": "layer"}, handle, protocol=4)
data = open(path, "rb").read()
print("\n| one call from Python (warm engine) | in-process | sandboxed worker |")
print("|---|---|---|")
for label, call in (("scan(path) of a 1 KB pickle", lambda isolation: picklewall.scan(path, isolation=isolation)),
                    ("scan(bytes) of a 1 KB pickle", lambda isolation: picklewall.scan(data, isolation=isolation))):
    row = []
    for isolation in ("in-process", "process"):
        call(isolation)  # the engine and its worker are up
        started = time.perf_counter()
        for _ in range(2000):
            call(isolation)
        row.append((time.perf_counter() - started) / 2000 * 1e6)
    print(f"| {label} | {row[0]:.0f} us | {row[1]:.0f} us |")
started = time.perf_counter()
picklewall.scan(b"N.", isolation="process", max_seconds_per_file=119)  # a new engine: its first worker starts
print(f"\nfirst call of a new engine (starts its worker): {(time.perf_counter() - started) * 1e3:.1f} ms")
EOF
