"""Generates the decoder benchmark inputs with the real pickler (deterministic).

opcode_dense.pkl  about 100 MB: a list of small records (ints, floats, short strings, nested lists), protocol 4,
                  the opcode mix of a large metadata/tokenizer pickle.
binbytes_1g.pkl   about 1 GiB: 64 byte strings of 16 MiB each (written as BINBYTES8 outside frames), the shape
                  of a pickle that carries tensor bytes inline.
Usage: python3 bench/make_decoder_inputs.py OUT_DIR
"""
import pickle
import random
import sys
from pathlib import Path


def opcode_dense(path: Path, target_bytes: int = 100_000_000) -> None:
    rng = random.Random(1)
    records = []
    size = 0
    while size < target_bytes:
        chunk = [{"id": i, "score": rng.random(), "label": f"tok{rng.randrange(50000)}",
                  "span": [rng.randrange(512), rng.randrange(512)], "flag": bool(i & 1)} for i in range(20000)]
        records.extend(chunk)
        size = len(pickle.dumps(records[-20000:], protocol=4)) * (len(records) // 20000)
    with open(path, "wb") as out:
        pickle.dump(records, out, protocol=4)


def binbytes(path: Path, blocks: int = 64, block_bytes: int = 16 << 20) -> None:
    with open(path, "wb") as out:
        pickle.dump([bytes([i]) * block_bytes for i in range(blocks)], out, protocol=4)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out")
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "opcode_dense.pkl").exists():
        opcode_dense(out / "opcode_dense.pkl")
    if not (out / "binbytes_1g.pkl").exists():
        binbytes(out / "binbytes_1g.pkl")
    for name in ("opcode_dense.pkl", "binbytes_1g.pkl"):
        print(name, (out / name).stat().st_size)
