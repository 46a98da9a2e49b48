#!/usr/bin/env bash
# Converting a 2.3 GB torch.save checkpoint to safetensors: picklewall convert against the torch.load +
# safetensors save_file path (what Hugging Face's converter does), in one run, same input, same disk. Each
# input is dropped from the page cache first so both read it from disk. Reports wall time and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null
mkdir -p bench/out
input=bench/out/checkpoint_2g.pt
if [ ! -f "$input" ]; then
  python3 - "$input" <<'PY'
import sys, torch
torch.manual_seed(0)
# A transformer-shaped state dict: 2.3 GB in 24 layers plus embeddings: float32 and bfloat16 weights, float32
# norms, int64 counters.
state = {"embed.weight": torch.randn(32000, 2048)}
for layer in range(24):
    state[f"layers.{layer}.attn.qkv.weight"] = torch.randn(3 * 2048, 2048)
    state[f"layers.{layer}.mlp.up.weight"] = torch.randn(8192, 2048).to(torch.bfloat16)
    state[f"layers.{layer}.norm.weight"] = torch.ones(2048)
    state[f"layers.{layer}.step"] = torch.tensor(layer)
torch.save(state, sys.argv[1])
PY
fi
size=$(stat -c %s "$input")
drop() { python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)" "$1"; }
# The torch path as Hugging Face's converter runs it (save_file does not fsync), and the same with an fsync at
# the end, for equal durability: picklewall always fsyncs before it renames its output into place.
torch_path='import sys, os, torch
from safetensors.torch import save_file
sd = torch.load(sys.argv[1], weights_only=True)
save_file({k: v.contiguous() for k, v in sd.items()}, sys.argv[2], metadata={"format": "pt"})
if sys.argv[3] == "fsync":
    fd = os.open(sys.argv[2], os.O_RDONLY); os.fsync(fd); os.close(fd)'
# cold: the input dropped from the page cache before every run (read from disk); warm: the input cached.
for cache in cold warm; do
for round in 1 2 3; do
  for tool in picklewall torch torch-fsync; do
    rm -f bench/out/converted_*.safetensors
    sync
    if [ "$cache" = cold ]; then drop "$input"; else cat "$input" >/dev/null; fi
    case $tool in
      picklewall) /usr/bin/time -f "picklewall   ${cache} round=${round} size=${size} wall_s=%e peak_rss_kb=%M" \
                    build/picklewall convert "$input" bench/out/converted_pw.safetensors >/dev/null ;;
      torch) /usr/bin/time -f "torch+save   ${cache} round=${round} size=${size} wall_s=%e peak_rss_kb=%M" \
               python3 -c "$torch_path" "$input" bench/out/converted_torch.safetensors no ;;
      torch-fsync) /usr/bin/time -f "torch+fsync  ${cache} round=${round} size=${size} wall_s=%e peak_rss_kb=%M" \
                     python3 -c "$torch_path" "$input" bench/out/converted_torch.safetensors fsync ;;
    esac
  done
done
done
# Same bytes from both paths.
build/picklewall convert "$input" bench/out/converted_pw.safetensors >/dev/null
python3 -c "$torch_path" "$input" bench/out/converted_torch.safetensors no
cmp bench/out/converted_pw.safetensors bench/out/converted_torch.safetensors && echo "outputs identical"
rm -f bench/out/converted_*.safetensors
