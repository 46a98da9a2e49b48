"""safetensors files whose 8-byte header length reads as another format's magic: 128 (80 00) and 384 (80 01) as a
pickle's PROTO, 376 (78 01) as a zlib header. The reference writer produces them (found on the hub benchmark
corpus, where 2 of 100 files were called malformed pickles); they are data. A polyglot that really is both a
safetensors file and a pickle is not."""
import json
import struct

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from harness import load_in_child, run_scan


def safetensors_with_header_length(path, length: int) -> None:
    """Writes a real safetensors file (safetensors.numpy.save_file) whose header is exactly `length` bytes,
    found by growing a metadata string."""
    tensors = {"weight": np.arange(12, dtype=np.float32).reshape(3, 4)}
    for pad in range(length):
        save_file(tensors, str(path), metadata={"note": "x" * pad})
        if struct.unpack("<Q", path.read_bytes()[:8])[0] == length:
            return
    raise AssertionError(f"no metadata size gives a {length}-byte header")


@pytest.mark.parametrize("length, lookalike", [(128, b"\x80\x00"), (384, b"\x80\x01"), (376, b"\x78\x01")])
def test_real_files_whose_length_looks_like_a_magic_are_safetensors(tmp_path, length, lookalike):
    path = tmp_path / f"model_{length}.safetensors"
    safetensors_with_header_length(path, length)
    assert path.read_bytes()[:2] == lookalike
    assert load_file(str(path))["weight"].shape == (3, 4)
    scan = run_scan("--show-info", path)
    assert scan.returncode == 0, scan.report
    assert scan.file()["format"] == "safetensors" and scan.file()["verdict"] == "safe"


def pickle_safetensors_polyglot(marker: str) -> bytes:
    """A file the safetensors reader accepts that pickle.load also reads, running os.system.

    As a pickle: PROTO 2, then BINFLOAT (0x47, the third length byte) eats the rest of the length field and the
    first JSON bytes; SHORT_BINBYTES ('C' + a printable length) inside the tensor name skip the JSON header; the
    tensor's bytes are the payload. As safetensors: a header of 0x470280 bytes naming one uint8 tensor."""
    payload = b"cos\nsystem\n(S'touch " + marker.encode() + b"'\ntR."
    header_length = 0x470280  # little-endian 80 02 47 00 00 00 00 00
    entry = json.dumps({"dtype": "U8", "shape": [len(payload)], "data_offsets": [0, len(payload)]},
                       separators=(",", ":"))
    # Offsets from the file start: 8 '{', 9 '"', 10 eaten by BINFLOAT with bytes 3-7 of the length, 11.. the skips.
    name = bytearray(b"n")
    position = 11
    end_of_header = 8 + header_length
    tail = len('":' + entry + "}")
    while True:
        remaining = end_of_header - (position + 2)  # what the next skip must cover to land on the payload
        if remaining <= 126 and remaining >= tail:
            name += b"C" + bytes([remaining]) + b"z" * (remaining - tail)
            break
        name += b"C~" + b"z" * 126
        position += 128
    header = b'{"' + bytes(name) + b'":' + entry.encode() + b"}"
    assert len(header) == header_length and all(32 <= c < 127 for c in name)
    return struct.pack("<Q", header_length) + header + payload


def test_a_safetensors_pickle_polyglot_is_caught(tmp_path):
    path = tmp_path / "model.safetensors"
    marker = tmp_path / "payload-ran"
    path.write_bytes(pickle_safetensors_polyglot(str(marker)))
    tensors = load_file(str(path))
    assert len(tensors) == 1 and next(iter(tensors.values())).tobytes().startswith(b"cos\nsystem")
    load_in_child("pickle", path, marker)
    assert marker.exists(), "the polyglot does not run as a pickle"
    marker.unlink()
    scan = run_scan(path)
    assert scan.returncode == 1
    rules = {finding["rule"] for finding in scan.file()["findings"]}
    assert "polyglot.safetensors-pickle" in rules and scan.file()["verdict"] == "malicious"
    assert "os.system" in scan.file()["globals"]
