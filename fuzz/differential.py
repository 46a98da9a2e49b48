"""Long differential fuzzing run against CPython (the bounded run is tests/e2e/test_differential.py, in CI).
Each round generates a fresh batch of hand-made and mutated pickles from its own seed, lets CPython's unpickler
record every global a real load resolves, scans the batch with picklewall, and keeps every file where CPython
resolved a global picklewall did not report in OUT/ (with a JSON line saying what differed).

Usage: python3 fuzz/differential.py [--minutes 60] [--seed 1] [--handmade 2000] [--mutants 8]
                                    [--binary build/picklewall] [--out build/differential]"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from fixtures.differential import missed_globals, record_with_cpython, write_batch  # noqa: E402
from fixtures.pickle_generator import corpus  # noqa: E402


def scan(binary: str, folder: pathlib.Path) -> dict:
    completed = subprocess.run([binary, "scan", "-f", "json", "--no-hash", str(folder)], capture_output=True,
                               text=True, timeout=3600)
    if completed.returncode not in (0, 1, 2):
        raise SystemExit(f"picklewall exited {completed.returncode}: {completed.stderr[-2000:]}")
    return {file["path"]: file for file in json.loads(completed.stdout)["files"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--handmade", type=int, default=2000)
    parser.add_argument("--mutants", type=int, default=8)
    parser.add_argument("--binary", default=str(ROOT / "build" / "picklewall"))
    parser.add_argument("--out", default=str(ROOT / "build" / "differential"))
    arguments = parser.parse_args()
    out = pathlib.Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + arguments.minutes * 60
    started = time.monotonic()
    totals = {"rounds": 0, "files": 0, "files_resolving_globals": 0, "globals_resolved": 0, "disagreements": 0}
    seed = arguments.seed
    while time.monotonic() < deadline:
        items = corpus(seed, arguments.handmade, arguments.mutants)
        with tempfile.TemporaryDirectory() as scratch:
            folder = pathlib.Path(scratch)
            paths = write_batch(folder, items)
            cpython = record_with_cpython(paths)
            report = scan(arguments.binary, folder)
            missed = missed_globals(paths, cpython, report)
            for name, difference in missed.items():
                kept = out / f"seed{seed}_{name}"
                shutil.copyfile(folder / name, kept)
                with open(out / "disagreements.jsonl", "a") as log:
                    log.write(json.dumps({"file": kept.name, **difference}) + "\n")
        totals["rounds"] += 1
        totals["files"] += len(items)
        totals["files_resolving_globals"] += sum(1 for result in cpython.values() if result["globals"])
        totals["globals_resolved"] += sum(len(result["globals"]) for result in cpython.values())
        totals["disagreements"] += len(missed)
        print(f"seed {seed}: {len(items)} files, {len(missed)} disagreements "
              f"({time.monotonic() - started:.0f} s so far)", flush=True)
        seed += 1
    totals["seconds"] = round(time.monotonic() - started)
    print(json.dumps(totals))
    return 1 if totals["disagreements"] else 0


if __name__ == "__main__":
    sys.exit(main())
