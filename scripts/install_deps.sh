#!/usr/bin/env bash
# Installs what building and testing picklewall needs, from Debian's packages and PyPI only. Idempotent: on a
# machine that has everything it only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(g++ cmake ninja-build pkg-config libssl-dev zlib1g-dev nlohmann-json3-dev libcli11-dev
                 libtomlplusplus-dev libgtest-dev libarchive-dev python3 python3-pip
                 p7zip-full zip tar gzip bzip2 xz-utils zstd lz4)
missing=()
for package in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r requirements-test.txt
