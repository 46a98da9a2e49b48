"""Runs picklewall and the peer scanners over the same attack and benign corpora and prints, per tool, how many
live attacks each one caught and how many benign files it flagged.

The corpora are made here by the test fixtures' real writers (nothing downloaded):
- attacks: every fixture in tests/fixtures/attacks.py, advisories.py and mechanisms.py, the hidden .npy headers
  of npy_headers.py, the reading divergences of readings.py and the torch tar payload of torch_tar.py (each
  proven live by the test suite);
- benign data: torch state dicts and checkpoints (every dtype, views, optimizer state), transformers models in
  nine architectures, numpy .npy/.npz, joblib with every compressor, plain pickles of protocols 0-5;
- benign code: estimators, whole torch modules, transformers models pickled whole, pandas, SciPy (not data:
  a good scanner flags them as needing trust, but must never call them malicious).

Run through bench/compare/run_compare.sh, which installs the peers from PyPI into their own virtualenv.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from fixtures import advisories, attacks, benign, code_bearing, containers, mechanisms, npy_headers  # noqa: E402
from fixtures import torch_tar  # noqa: E402

try:
    from fixtures import readings  # noqa: E402
except ImportError:  # older checkouts
    readings = None

OUT = ROOT / "bench" / "out" / "compare"
PEERS_PYTHON = ROOT / "bench" / "out" / "peers" / "bin" / "python"
PEERS = ["picklescan", "modelscan", "fickling", "modelaudit"]


def build_corpora():
    import shutil
    if OUT.exists():
        shutil.rmtree(OUT)
    folders = {name: OUT / name for name in ("attacks", "benign_data", "benign_code")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    markers = OUT / "markers"
    markers.mkdir()
    live = []
    for attack in attacks.ATTACKS + advisories.ADVISORY_ATTACKS + mechanisms.MECHANISM_ATTACKS:
        path = folders["attacks"] / f"{attack.name}{attack.suffix}"
        path.write_bytes(attack.build(str(markers / attack.name)))
        if not attack.not_live_because:
            live.append(path)
    for header in npy_headers.HIDDEN_HEADERS:
        if header.name in npy_headers.REFUSED:
            continue
        path = folders["attacks"] / f"npy_header_{header.name}.npy"
        path.write_bytes(header.build(str(markers / header.name)))
        live.append(path)
    tar = folders["attacks"] / "torch_tar_payload_after_first_storage.tar"
    torch_tar.payload_after_the_first_storage(tar, markers / "torch_tar")
    live.append(tar)
    for fixture in getattr(readings, "READING_ATTACKS", []):
        path = folders["attacks"] / f"reading_{fixture.name}{fixture.suffix}"
        path.write_bytes(fixture.build(str(markers / fixture.name)))
        live.append(path)
    data = folders["benign_data"]
    benign_files = benign.write_pickles(data) + benign.write_torch(data) + benign.write_numpy_files(data)
    benign_files += list(containers.joblib_files(data / "joblib").values())
    for folder in containers.transformers_models(data / "transformers").values():
        benign_files += sorted(p for p in folder.rglob("*") if p.is_file())
    code_files = [item.path for item in code_bearing.write_all(folders["benign_code"])]
    return {"attacks": live, "benign_data": benign_files, "benign_code": code_files}


def run_picklewall(paths):
    binary = ROOT / "build" / "picklewall"
    completed = subprocess.run([str(binary), "scan", "-f", "json", "--no-hash", *map(str, paths)],
                               capture_output=True, text=True)
    results = {}
    for file in json.loads(completed.stdout)["files"]:
        # not-a-model (a config.json beside the weights) is no alert: nothing in it would be unpickled.
        results[file["path"]] = {"high": file["verdict"] == "malicious",
                                 "any": file["verdict"] not in ("safe", "not-a-model"),
                                 "error": "" if file["verdict"] != "error" else "error"}
    return results


def run_peer(tool, paths):
    completed = subprocess.run([str(PEERS_PYTHON), str(ROOT / "bench" / "compare" / "peer_runner.py"), tool],
                               input="\n".join(map(str, paths)), capture_output=True, text=True, timeout=3600)
    results = {}
    for line in completed.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            results[record["path"]] = record
    for path in map(str, paths):  # a tool that died mid-run scanned nothing after that
        results.setdefault(path, {"high": False, "any": False, "error": "tool exited"})
    return results


def tally(results, paths):
    rows = [results[str(path)] for path in paths]
    return {"high": sum(r["high"] for r in rows), "any": sum(r["any"] for r in rows),
            "error": sum(bool(r["error"]) and not r["any"] for r in rows), "total": len(rows)}


def peer_versions():
    code = ("import importlib.metadata as m\n"
            f"print(' '.join(f'{{n}}=={{m.version(n)}}' for n in {PEERS!r}))")
    return subprocess.run([str(PEERS_PYTHON), "-c", code], capture_output=True, text=True).stdout.strip()


def main():
    corpora = build_corpora()
    all_paths = [p for paths in corpora.values() for p in paths]
    table = {}
    timings = {}
    for tool in ["picklewall"] + PEERS:
        start = time.monotonic()
        results = run_picklewall(all_paths) if tool == "picklewall" else run_peer(tool, all_paths)
        timings[tool] = time.monotonic() - start
        table[tool] = {name: tally(results, paths) for name, paths in corpora.items()}
        table[tool]["missed_attacks"] = [Path(p).name for p in map(str, corpora["attacks"]) if not results[p]["any"]]
        table[tool]["benign_data_top_severity"] = [Path(p).name for p in map(str, corpora["benign_data"])
                                                   if results[p]["high"]]
        table[tool]["errors"] = sum(bool(results[str(p)]["error"]) for p in all_paths)
    (OUT / "results.json").write_text(json.dumps({"table": table, "timings_s": timings}, indent=1))
    counts = {name: len(paths) for name, paths in corpora.items()}
    print(f"peers: {peer_versions()}")
    print(f"corpora: {counts['attacks']} live attacks, {counts['benign_data']} benign data files, "
          f"{counts['benign_code']} benign code-bearing files\n")
    print("| tool | attacks caught (top severity) | attacks with any alert | attacks missed (no alert) "
          "| benign data at top severity | benign data with any alert | benign code at top severity "
          "| benign code with any alert | files the tool could not scan | wall time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for tool, row in table.items():
        a, d, c = row["attacks"], row["benign_data"], row["benign_code"]
        print(f"| {tool} | {a['high']}/{a['total']} | {a['any']}/{a['total']} | {a['total'] - a['any']} "
              f"| {d['high']}/{d['total']} | {d['any']}/{d['total']} | {c['high']}/{c['total']} "
              f"| {c['any']}/{c['total']} | {row['errors']} | {timings[tool]:.2f} s |")
    print()
    for tool, row in table.items():
        if row["missed_attacks"]:
            print(f"{tool} missed: {', '.join(row['missed_attacks'])}")
        if row["benign_data_top_severity"]:
            print(f"{tool} top-severity alerts on benign data: {', '.join(row['benign_data_top_severity'])}")


if __name__ == "__main__":
    main()
