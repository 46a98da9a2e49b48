#!/usr/bin/env bash
# One command from a fresh machine: install what is missing, build, make a real benign PyTorch model and a copy
# with a spliced Sleepy-Pickle payload (both written by the real torch), and scan them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh build
python3 demo/make_demo_models.py demo/generated
echo
echo "\$ picklewall scan demo/generated"
set +e
build/picklewall scan demo/generated
status=$?
set -e
echo
echo "exit code $status (0: all safe, 1: something suspicious or malicious, 2: usage or I/O error)"
