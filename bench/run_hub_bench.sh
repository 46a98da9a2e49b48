#!/usr/bin/env bash
# Hub-scale speed against the peers (issue 7): writes the reproducible corpus (bench/hub/make_corpus.py, about
# 2,030 files and 5.4 GB), installs picklescan, ModelScan, fickling and ModelAudit from PyPI into their own
# virtualenv, and runs every tool over the corpus in one go. Prints the Markdown table kept in bench/RESULTS.md.
# Usage: bench/run_hub_bench.sh [--timeout SECONDS_PER_TOOL] [--only NAME,NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null
python3 bench/hub/make_corpus.py bench/out/hub_corpus
if [ ! -x bench/out/peers/bin/python ]; then
  python3 -m venv bench/out/peers
fi
# py7zr: picklescan's optional dependency for 7z archives (without it picklescan aborts the whole folder at the
# first .7z file).
bench/out/peers/bin/pip install --quiet --disable-pip-version-check picklescan modelscan fickling modelaudit py7zr
python3 bench/hub/run_tools.py bench/out/hub_corpus build/picklewall bench/out/peers/bin "$@"
