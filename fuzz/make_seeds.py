"""Writes the seed corpora in fuzz/corpus/<target>/ with the real writers (pickle, torch.save, numpy, joblib,
safetensors, gguf, zipfile), small enough to commit. Run from the repository root:
python3 fuzz/make_seeds.py [TARGET...].
Deterministic for a given set of library versions; the committed seeds are what CI fuzzes from."""
import collections
import io
import pathlib
import pickle
import shutil
import sys
import struct
import tempfile
import zipfile

import joblib
import numpy as np
import torch
from safetensors.numpy import save as safetensors_save

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"

# The pickle-loadable attack fixtures already in the whole-pipeline corpus (written by tests/fixtures/attacks.py).
ATTACKS = {path.stem[len("attack_"):]: path.read_bytes() for path in sorted((ROOT / "scan").glob("attack_*.pkl"))}


def target(name: str) -> pathlib.Path:
    folder = ROOT / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def torch_bytes(obj, legacy: bool = False) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


def data_pkl(zip_bytes: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        return archive.read(name)


def state_dicts() -> dict:
    torch.manual_seed(0)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    linear = torch.nn.Linear(3, 2)
    return {
        "linear": linear.state_dict(),
        "dtypes": {str(d).split(".")[1]: torch.ones(3, dtype=d) for d in
                   (torch.float16, torch.bfloat16, torch.float64, torch.int8, torch.uint8, torch.int16,
                    torch.int32, torch.int64, torch.bool, torch.complex64)},
        "views": {"base": base, "row": base[1], "col": base[:, 2], "t": base.t(), "slice": base[1:3, 2:5]},
        "tied": {"a": base, "b": base, "scalar": torch.tensor(3.5), "empty": torch.zeros(0, 4)},
        "wrapped": {"state_dict": {"w": base}, "epoch": 3, "optimizer": {"lr": 0.1}},
        "sequential": torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()).state_dict(),
    }


def plain_objects() -> dict:
    shared = [1, 2, 3]
    recursive = []
    recursive.append(recursive)
    return {
        "dict": {"a": 1, "b": [1.5, -2.0, None, True], "c": ("x", b"y", bytearray(b"z")), "big": 1 << 200},
        "sets": {"s": {1, 2, 3}, "f": frozenset({"a", "b"})},
        "shared": {"x": shared, "y": shared, "z": (shared, shared)},
        "recursive": recursive,
        "ordered": collections.OrderedDict([("k", 1), ("v", [2, 3])]),
        "text": {"unicode": "h\u00e9llo \u2603 \U0001f600", "long": "x" * 300, "neg": -(1 << 70)},
        "numpy": {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array(["u", "v"]), "c": np.int64(5)},
    }


def write(folder: pathlib.Path, name: str, data: bytes) -> None:
    (folder / name).write_bytes(data)


def pickle_seeds() -> None:
    folder = target("pickle")
    for name, obj in plain_objects().items():
        for protocol in range(0, 6):
            write(folder, f"{name}_p{protocol}.pkl", pickle.dumps(obj, protocol=protocol))
    for name, obj in state_dicts().items():
        write(folder, f"torch_{name}.pkl", data_pkl(torch_bytes(obj)))
    for name, data in ATTACKS.items():
        write(folder, f"attack_{name}.pkl", data)


def joblib_seeds() -> None:
    folder = target("joblib")
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    x = np.arange(40, dtype=np.float64).reshape(20, 2)
    y = (np.arange(20) % 2).astype(np.int64)
    objects = {
        "arrays": {"f4": np.arange(5, dtype=np.float32), "i8": np.arange(4), "fortran": np.asfortranarray(x[:4]),
                   "big_endian": np.arange(3, dtype=">i4"), "bool": np.array([True, False])},
        "object_array": np.array([1, "two", None, (3,)], dtype=object),
        "structured": np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]),
        "strings": np.array(["alpha", "beta"]),
        "scaler": StandardScaler().fit(x),
        "logistic": LogisticRegression().fit(x, y),
        "nested": [{"w": np.ones((2, 2))}, (np.zeros(1),)],
    }
    with tempfile.TemporaryDirectory() as scratch:
        for name, obj in objects.items():
            path = pathlib.Path(scratch) / f"{name}.joblib"
            joblib.dump(obj, path)
            write(folder, f"{name}.joblib", path.read_bytes())


def convert_seeds() -> None:
    folder = target("convert")
    for name, obj in state_dicts().items():
        pickled = data_pkl(torch_bytes(obj))
        write(folder, f"torch_{name}.bin", b"\x00" + pickled)
        write(folder, f"torch_{name}_dropped_roots.bin", b"\x01" + pickled)
    write(folder, "torch_model_key.bin", b"\x02" + data_pkl(torch_bytes({"model": state_dicts()["linear"]})))
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.arange(4, dtype=">i8"),
              "f": np.asfortranarray(np.ones((2, 3), dtype=np.float16))}
    for protocol in (2, 4, 5):
        write(folder, f"numpy_p{protocol}.bin", b"\x00" + pickle.dumps(arrays, protocol=protocol))
    with tempfile.TemporaryDirectory() as scratch:
        path = pathlib.Path(scratch) / "arrays.joblib"
        joblib.dump(arrays, path)
        write(folder, "joblib_arrays.bin", b"\x04" + path.read_bytes())
    for name in ("sleepy_run_last_on_root", "sleepy_weight_patch_setitem", "sleepy_injected_object"):
        write(folder, f"attack_{name}.bin", b"\x01" + ATTACKS[name])


def zip_seeds() -> None:
    folder = target("zip")
    for name in ("linear", "views", "tied"):
        write(folder, f"torch_{name}.pt", torch_bytes(state_dicts()[name]))
    arrays = {"a": np.arange(10), "b": np.ones((2, 2))}
    for name, saver in (("npz", np.savez), ("npz_compressed", np.savez_compressed)):
        buffer = io.BytesIO()
        saver(buffer, **arrays)
        write(folder, f"{name}.npz", buffer.getvalue())
    for name, method, zip64 in (("stored", zipfile.ZIP_STORED, False), ("deflated", zipfile.ZIP_DEFLATED, False),
                                ("zip64", zipfile.ZIP_DEFLATED, True)):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=method) as archive:
            archive.comment = b"comment"
            with archive.open("model/data.pkl", "w", force_zip64=zip64) as member:
                member.write(pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
            archive.writestr("model/version", "3\n")
        write(folder, f"{name}.zip", buffer.getvalue())

    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.chunks = []

        def writable(self):
            return True

        def write(self, data):
            self.chunks.append(bytes(data))
            return len(data)

    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:  # data descriptors
        archive.writestr("archive/data.pkl", pickle.dumps([1, 2, 3]))
    write(folder, "data_descriptor.zip", b"".join(sink.chunks))


def torch_legacy_seeds() -> None:
    folder = target("torch_legacy")
    for name, obj in state_dicts().items():
        write(folder, f"{name}.pt", torch_bytes(obj, legacy=True))


def npy_seeds() -> None:
    folder = target("npy")
    arrays = {
        "f4": np.arange(6, dtype=np.float32).reshape(2, 3), "scalar": np.array(2.5), "empty": np.zeros((0, 3)),
        "fortran": np.asfortranarray(np.ones((3, 2))), "big_endian": np.arange(4, dtype=">u2"),
        "unicode": np.array(["ab", "c"]), "bytes": np.array([b"x", b"yz"]), "bool": np.array([True]),
        "structured": np.zeros(2, dtype=[("x", "<f4"), ("y", "<i8", (2,))]),
        "object": np.array([{"k": 1}, None], dtype=object), "complex": np.ones(2, dtype=np.complex64),
    }
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=True)
        write(folder, f"{name}.npy", buffer.getvalue())
    for version in ((1, 0), (2, 0), (3, 0)):
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, arrays["f4"], version=version)
        write(folder, f"version_{version[0]}.npy", buffer.getvalue())


def safetensors_seeds() -> None:
    folder = target("safetensors")
    tensors = {
        "f32": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)},
        "many": {f"t{i}": np.full((i + 1,), i, dtype=d) for i, d in
                 enumerate((np.float16, np.float64, np.int8, np.uint8, np.int32, np.int64, np.bool_))},
        "empty_tensor": {"e": np.zeros((0, 2), dtype=np.float32), "s": np.array(1.0, dtype=np.float32)},
        "none": {},
    }
    for name, content in tensors.items():
        write(folder, f"{name}.safetensors", safetensors_save(content))
    write(folder, "metadata.safetensors", safetensors_save(tensors["f32"], metadata={"format": "pt", "k": "v"}))
    header = b'{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}'
    write(folder, "bf16_hand.safetensors", struct.pack("<Q", len(header)) + header + b"\x00" * 4)


def gguf_seeds() -> None:
    import gguf
    folder = target("gguf")
    with tempfile.TemporaryDirectory() as scratch:
        for name, (architecture, tensors) in {
            "tiny": ("llama", {"blk.0.weight": np.ones((4, 4), dtype=np.float32)}),
            "two_tensors": ("gpt2", {"a": np.zeros(3, dtype=np.float16), "b": np.arange(2, dtype=np.int32)}),
        }.items():
            path = pathlib.Path(scratch) / f"{name}.gguf"
            writer = gguf.GGUFWriter(str(path), architecture)
            writer.add_block_count(1)
            writer.add_string("general.name", "seed")
            writer.add_array("tokenizer.ggml.tokens", ["a", "b", "c"])
            writer.add_float32("rope.freq", 10000.0)
            writer.add_bool("flag", True)
            for tensor_name, array in tensors.items():
                writer.add_tensor(tensor_name, array)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            writer.close()
            write(folder, f"{name}.gguf", path.read_bytes())


def cbor(value) -> bytes:
    """CBOR (RFC 8949) of the few types the worker protocol uses: what nlohmann::json::to_cbor writes."""
    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        for extra, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if length < 1 << (8 * width):
                return bytes([major << 5 | extra]) + length.to_bytes(width, "big")
        raise ValueError(length)
    if value is None:
        return b"\xf6"
    if value is True or value is False:
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        data = value.encode()
        return head(3, len(data)) + data
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor(item) for item in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(key) + cbor(item) for key, item in value.items())
    raise TypeError(type(value))


def frame(message, descriptor: bool = False) -> bytes:
    payload = cbor(message)
    return len(payload).to_bytes(4, "little") + bytes([1 if descriptor else 0]) + payload


def channel_seeds() -> None:
    """Frames a worker sends its supervisor, as the worker protocol (src/isolation/worker_protocol.hpp) has them."""
    folder = target("channel")
    finding = [b"global.dangerous", "malicious", b"builtins.exec is called", b"archive/data.pkl", 116,
               b"builtins.exec"]
    report = {"path": b"model.pt", "format": b"pytorch-zip", "verdict": "malicious", "sha256": "0" * 64,
              "size": 1234, "findings": [finding, [b"limit.max_name_parts", "suspicious", b"\xe9", b"", None, b""]],
              "globals": [b"builtins.exec", b"torch._utils._rebuild_tensor_v2"]}
    write(folder, "report", frame({"report": report}))
    write(folder, "hash", frame({"sha256": "ab" * 32}))
    write(folder, "error", frame({"error": {"code": "limit_exceeded", "message": b"out of memory"}}))
    write(folder, "sandbox", frame({"sandbox": "execve"}))
    write(folder, "create", frame({"create": b"model.safetensors"}))
    conversion = {"input": b"in.bin", "output": b"model.safetensors", "scan": report,
                  "tensors": [[b"w", "F32", [2, 3]]], "dropped": [[b"a", b"b"]], "skipped": [b"x: 1"],
                  "bytes_written": 96, "verified": True}
    write(folder, "result", frame({"result": {"conversions": [conversion], "copied": [b"config.json"],
                                              "left_out": [b"training_args.bin: a pickle"]}}))
    write(folder, "tensors", frame({"scan": report, "tensors": [[b"w", "F32", [2], 8, 0]], "skipped": []}, True))
    write(folder, "two_frames", frame({"ok": True}) + frame({"report": report}))


def main(only: list) -> None:
    writers = {"pickle": pickle_seeds, "joblib": joblib_seeds, "convert": convert_seeds, "zip": zip_seeds,
               "torch_legacy": torch_legacy_seeds, "npy": npy_seeds, "safetensors": safetensors_seeds,
               "gguf": gguf_seeds, "channel": channel_seeds}
    for name, writer in writers.items():
        if not only or name in only:
            writer()
    for folder in sorted(ROOT.iterdir()):
        files = list(folder.iterdir())
        print(f"{folder.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])  # target names: only those; none: all
