#!/usr/bin/env bash
# Installs picklescan, ModelScan, fickling and ModelAudit from PyPI into their own virtualenv (their pins must
# not touch the test environment), builds picklewall, and runs every tool over the same corpora.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/build.sh build >/dev/null
if [ ! -x bench/out/peers/bin/python ]; then
  python3 -m venv bench/out/peers
fi
bench/out/peers/bin/pip install --quiet --upgrade picklescan modelscan fickling modelaudit
PROMPTFOO_DISABLE_TELEMETRY=1 python3 bench/compare/run_compare.py
