#!/usr/bin/env bash
# Checkpoint scan cost against tensor bytes: three torch.save checkpoints with the same 8 tensors (so the same
# data.pkl) of 64 MB, 1 GB and 4 GB. With --no-hash only data.pkl is read; wall time, peak RSS and page faults
# (each fault is a 4 KiB page touched) should stay flat. With hashing, every byte is read once by design.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null
mkdir -p bench/out
python3 - <<'PY'
import os, torch
for label, total in (("64m", 64 << 20), ("1g", 1 << 30), ("4g", 4 << 30)):
    path = f"bench/out/checkpoint_{label}.pt"
    if os.path.exists(path):
        continue
    per_tensor = total // 8 // 4
    torch.save({f"layer{i}.weight": torch.zeros(per_tensor, dtype=torch.float32) for i in range(8)}, path)
    print(path, os.path.getsize(path))
PY
for label in 64m 1g 4g; do
  file="bench/out/checkpoint_${label}.pt"
  size=$(stat -c %s "$file")
  # Drop this file from the page cache so bytes actually read show up as major faults.
  python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)" "$file"
  /usr/bin/time -f "no-hash  size=${size} wall_s=%e peak_rss_kb=%M major_faults=%F minor_faults=%R" \
    build/picklewall scan --no-hash -f json "$file" >/dev/null
  /usr/bin/time -f "hashing  size=${size} wall_s=%e peak_rss_kb=%M major_faults=%F minor_faults=%R" \
    build/picklewall scan -f json "$file" >/dev/null
done
