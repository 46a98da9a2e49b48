#!/usr/bin/env bash
# Installs what building and testing picklewall needs, from Debian's packages and PyPI only. Idempotent: on a
# machine that has everything it only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(g++ cmake ninja-build pkg-config libssl-dev zlib1g-dev nlohmann-json3-dev libcli11-dev
                 libtomlplusplus-dev libgtest-dev libarchive-dev libbz2-dev liblzma-dev libsqlite3-dev libseccomp-dev python3 python3-pip
                 clang libclang-rt-14-dev p7zip-full zip tar gzip bzip2 xz-utils zstd lz4
                 strace valgrind lrzip lzop lzip ncompress sharutils cpio binutils genisoimage)
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

# The SARIF 2.1.0 schema the tests validate reports against. PyPI is the only source reachable here, and the
# sarif-pydantic source distribution ships OASIS's schema file unchanged; the checksum pins that exact file.
sarif_schema=build/test-data/sarif-schema-2.1.0.json
sarif_schema_sha256=6352a05f9d03f181b8d9c71a46bdacc4fcff9d8ade5364858b425ba0c0994ed7
if ! echo "$sarif_schema_sha256  $sarif_schema" | sha256sum --check --status 2>/dev/null; then
  download=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    sarif-pydantic==0.6.2 -d "$download"
  tar -xzf "$download"/sarif_pydantic-0.6.2.tar.gz -C "$download" sarif_pydantic-0.6.2/sarif-schema-2.1.0.json
  mkdir -p "$(dirname "$sarif_schema")"
  cp "$download"/sarif_pydantic-0.6.2/sarif-schema-2.1.0.json "$sarif_schema.tmp"
  rm -rf "$download"
  echo "$sarif_schema_sha256  $sarif_schema.tmp" | sha256sum --check --status
  mv "$sarif_schema.tmp" "$sarif_schema"
fi
