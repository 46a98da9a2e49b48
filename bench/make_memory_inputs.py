"""Writes opcode-dense pickles of 0.1, 0.4 and 1.6 GB for bench/run_memory_bench.sh, streamed, so a 1.6 GB pickle
costs no more memory to write than a small one. The opcodes are those CPython's protocol-4 pickler writes for a
list of small records (the shape of bench/make_decoder_inputs.py's opcode_dense.pkl); a small instance is checked
against pickle.loads before anything is written.

Usage: python3 bench/make_memory_inputs.py OUT_DIR
"""
import pickle
import random
import struct
import sys
from pathlib import Path

KEYS = ("id", "score", "label", "span", "flag")
BATCH = 1000  # items per APPENDS, as CPython's pickler batches them


class Writer:
    def __init__(self, out):
        self.out = out
        self.memo = 0  # next MEMOIZE index
        self.key_index = {}

    def memoize(self) -> bytes:
        self.memo += 1
        return b"\x94"

    def text(self, value: str) -> bytes:
        data = value.encode()
        return b"\x8c" + bytes([len(data)]) + data + self.memoize()

    def key(self, name: str) -> bytes:
        if name in self.key_index:
            index = self.key_index[name]
            return b"h" + bytes([index]) if index < 256 else b"j" + struct.pack("<I", index)
        self.key_index[name] = self.memo
        return self.text(name)

    def record(self, i: int, rng: random.Random) -> bytes:
        dict_part = b"}" + self.memoize() + b"("
        parts = [dict_part,
                 self.key("id"), b"J" + struct.pack("<i", i),
                 self.key("score"), b"G" + struct.pack(">d", rng.random()),
                 self.key("label"), self.text(f"tok{rng.randrange(50000)}"),
                 self.key("span"), b"]" + self.memoize() + b"(" + b"M" + struct.pack("<H", rng.randrange(512)) +
                 b"M" + struct.pack("<H", rng.randrange(512)) + b"e",
                 self.key("flag"), b"\x88" if i & 1 else b"\x89",
                 b"u"]
        return b"".join(parts)

    def write(self, target_bytes: int, seed: int) -> int:
        rng = random.Random(seed)
        self.out.write(b"\x80\x04]" + self.memoize())
        written, i = 3, 0
        while written < target_bytes:
            chunk = [b"("]
            for _ in range(BATCH):
                chunk.append(self.record(i, rng))
                i += 1
            chunk.append(b"e")
            data = b"".join(chunk)
            self.out.write(data)
            written += len(data)
        self.out.write(b".")
        return i


def expected_records(count: int, seed: int) -> list:
    rng = random.Random(seed)
    return [{"id": i, "score": rng.random(), "label": f"tok{rng.randrange(50000)}",
             "span": [rng.randrange(512), rng.randrange(512)], "flag": bool(i & 1)} for i in range(count)]


def check_against_cpython() -> None:
    import io
    buffer = io.BytesIO()
    count = Writer(buffer).write(200_000, seed=7)
    assert pickle.loads(buffer.getvalue()) == expected_records(count, 7), "the writer does not write what it claims"


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out")
    out.mkdir(parents=True, exist_ok=True)
    check_against_cpython()
    for name, size in (("dense_0_1g.pkl", 100_000_000), ("dense_0_4g.pkl", 400_000_000), ("dense_1_6g.pkl", 1_600_000_000)):
        path = out / name
        if not path.exists():
            with open(path.with_suffix(".tmp"), "wb") as file:
                Writer(file).write(size, seed=1)
            path.with_suffix(".tmp").rename(path)
        print(f"{path}: {path.stat().st_size / 1e6:.0f} MB")
