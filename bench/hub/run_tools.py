"""Runs picklewall and the peer scanners over the hub corpus, one after another, and prints a Markdown table of
wall time, files/s, MB/s, peak RSS and the ratio of each run's wall time to picklewall's single-threaded run.

Usage: run_tools.py CORPUS_DIR PICKLEWALL_BINARY PEERS_VENV_BIN [--timeout SECONDS]

Every run is the tool's own command over the whole folder, as a user runs it (fickling has no folder mode, so
its Python API is called once per file in one process, which spares it a start-up per file). Wall time and peak
RSS come from GNU time. Every file is read once before the first run, so the page cache is warm for every run
(the corpus fits in memory) and the figures compare the tools' work, not the disk.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal"))
    return f"{os.cpu_count()} x {cpu}, {memory_kb / 1024 / 1024:.0f} GiB RAM, Linux {platform.release()}"


def timed(command: list, timeout: float, stdin_text: str = "") -> dict:
    """Runs `command` under GNU time; returns wall seconds, peak RSS in MB, exit code, or a timeout."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report, tempfile.TemporaryFile("w+") as output:
        full = ["/usr/bin/time", "-f", "%e %M", "-o", report.name, *command]
        try:
            completed = subprocess.run(full, input=stdin_text, stdout=output, stderr=subprocess.STDOUT, text=True,
                                       timeout=timeout, env={**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1",
                                                             "MODELAUDIT_DISABLE_TELEMETRY": "1"})
        except subprocess.TimeoutExpired:
            return {"timeout": True, "wall": timeout}
        fields = Path(report.name).read_text().split()
        output.seek(0)
        tail = output.read()[-400:]
        return {"wall": float(fields[-2]), "rss_mb": int(fields[-1]) / 1024, "code": completed.returncode,
                "tail": tail, "timeout": False}


def main() -> None:
    corpus, picklewall, peers_bin = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    timeout = float(sys.argv[sys.argv.index("--timeout") + 1]) if "--timeout" in sys.argv else 3600
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    total_bytes = sum(p.stat().st_size for p in files)
    file_list = "\n".join(map(str, files)) + "\n"
    for path in files:  # warm the page cache: every tool then reads from memory
        with open(path, "rb") as handle:
            while handle.read(16 << 20):
                pass
    cache = Path(tempfile.mkdtemp()) / "verdicts.sqlite"
    runs = [
        ("picklewall -j 1", [picklewall, "scan", "-f", "json", "-j", "1", str(corpus)]),
        ("picklewall -j 1 --no-hash", [picklewall, "scan", "-f", "json", "-j", "1", "--no-hash", str(corpus)]),
        ("picklewall -j 2", [picklewall, "scan", "-f", "json", "-j", "2", str(corpus)]),
        ("picklewall -j 2 --no-hash", [picklewall, "scan", "-f", "json", "-j", "2", "--no-hash", str(corpus)]),
        ("picklewall -j 2 --cache (first run)", [picklewall, "scan", "-f", "json", "-j", "2", "--cache", str(cache), str(corpus)]),
        ("picklewall -j 2 --cache (unchanged rerun)", [picklewall, "scan", "-f", "json", "-j", "2", "--cache", str(cache), str(corpus)]),
        ("picklescan", [str(peers_bin / "picklescan"), "-p", str(corpus)]),
        ("modelscan", [str(peers_bin / "modelscan"), "scan", "-p", str(corpus), "-r", "json",
                       "-o", str(Path(tempfile.mkdtemp()) / "modelscan.json")]),
        ("modelaudit", [str(peers_bin / "modelaudit"), "scan", str(corpus), "--no-cache", "-f", "json",
                        "-o", str(Path(tempfile.mkdtemp()) / "modelaudit.json")]),
        ("fickling (API, one process)", [str(peers_bin / "python"), str(HERE.parent / "compare" / "peer_runner.py"), "fickling"]),
    ]
    only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
    results = {}
    for name, command in runs:
        if only and not any(name.startswith(o) for o in only):
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results[name] = timed(command, timeout, file_list if "fickling" in name else "")
        print(f"  {json.dumps(results[name])[:300]}", file=sys.stderr, flush=True)
    base = results.get("picklewall -j 1", {}).get("wall")
    print(f"Corpus: {len(files):,} files, {total_bytes / 1e9:.2f} GB ({corpus}). Machine: {machine()}.\n")
    print("| run | wall | files/s | MB/s | peak RSS | wall / picklewall -j 1 | exit |")
    print("|---|---|---|---|---|---|---|")
    for name, result in results.items():
        if result["timeout"]:
            print(f"| {name} | > {timeout:.0f} s (stopped) | | | | > {timeout / base:.0f}x | |" if base else f"| {name} | timeout |")
            continue
        wall = max(result["wall"], 0.01)
        ratio = f"{wall / base:.1f}x" if base else ""
        print(f"| {name} | {result['wall']:.2f} s | {len(files) / wall:,.0f} | {total_bytes / 1e6 / wall:,.0f} | "
              f"{result['rss_mb']:,.0f} MB | {ratio} | {result['code']} |")
    json.dump(results, open(corpus.parent / "hub_results.json", "w"), indent=1)


if __name__ == "__main__":
    main()
