"""Every container a model ships in, judged by content: fixtures from the real tools and writers."""
import bz2
import gzip
import lzma
import pickle
import subprocess
import sys

import pytest

from fixtures import containers
from harness import ROOT, load_in_child, run_scan

DECOMPRESSORS = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open, "lzma": lzma.open}


@pytest.fixture(scope="module")
def wrapped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wrapped")
    marker = folder / "payload.marker"
    evil = containers.wrap_all(folder / "evil", "evil", containers.payload_pickle(str(marker)))
    benign = containers.wrap_all(folder / "benign", "benign", pickle.dumps({"w": [1.0, 2.0], "n": "x"}, protocol=4))
    return marker, evil, benign


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "lzma"])
def test_compressed_payloads_are_live(wrapped, kind):
    marker, evil, _ = wrapped
    marker.unlink(missing_ok=True)
    opener = {"gzip": "gzip.open", "bzip2": "bz2.open", "xz": "lzma.open", "lzma": "lzma.open"}[kind]
    code = f"import gzip, bz2, lzma, pickle\npickle.load({opener}({str(evil[kind])!r}))"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert marker.exists()
    marker.unlink()


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "lzma", "zstd", "lz4", "tar", "tar.gz", "7z", "zip"])
def test_payload_in_every_wrapper_is_malicious(wrapped, kind):
    marker, evil, _ = wrapped
    report = run_scan(evil[kind]).file()
    assert report["verdict"] == "malicious", report
    assert any(f["symbol"] == "builtins.exec" for f in report["findings"])
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "lzma", "zstd", "lz4", "tar", "tar.gz", "7z", "zip"])
def test_benign_pickle_in_every_wrapper_is_safe(wrapped, kind):
    _, _, benign = wrapped
    report = run_scan(benign[kind]).file()
    assert report["verdict"] == "safe", report


def test_joblib_every_compressor_is_safe_and_loads(tmp_path):
    files = containers.joblib_files(tmp_path)
    report = run_scan(tmp_path).by_path()
    for kind, path in files.items():
        assert report[str(path)]["verdict"] == "safe", (kind, report[str(path)])
    assert report[str(files["raw"])]["format"] == "joblib"
    code = "import joblib, sys\nfor p in sys.argv[1:]: joblib.load(p)"
    subprocess.run([sys.executable, "-c", code, *map(str, files.values())], check=True, timeout=120)


def test_joblib_payload_after_array_bytes_is_live_and_malicious(tmp_path):
    marker = tmp_path / "joblib.marker"
    path = containers.joblib_payload_after_arrays(tmp_path, str(marker))
    load_in_child("joblib", path, marker)
    assert marker.exists(), "joblib.load must run the spliced call"
    marker.unlink()
    report = run_scan(path).file()
    assert report["verdict"] == "malicious" and report["format"] == "joblib"


def test_sklearn_is_code_that_needs_trust(tmp_path):
    files = containers.sklearn_files(tmp_path)
    default = run_scan(tmp_path).by_path()
    for path in files.values():
        assert default[str(path)]["verdict"] == "suspicious", default[str(path)]
        assert {f["rule"] for f in default[str(path)]["findings"]} == {"global.unknown"}
    trusted = run_scan("--policy", ROOT / "policies" / "trust" / "scikit-learn.toml", tmp_path).by_path()
    for path in files.values():
        assert trusted[str(path)]["verdict"] == "safe", trusted[str(path)]


def test_safetensors_validated_by_the_reference_rules(tmp_path):
    files = containers.safetensors_files(tmp_path)
    report = run_scan(tmp_path).by_path()
    assert report[str(files["good"])]["verdict"] == "safe"
    assert report[str(files["good"])]["format"] == "safetensors"
    for name in ("trailing", "bad_offsets"):
        rules = {f["rule"] for f in report[str(files[name])]["findings"]}
        assert "safetensors.invalid" in rules, (name, report[str(files[name])])
    messages = " ".join(f["message"] for f in report[str(files["trailing"])]["findings"])
    assert "MetadataIncompleteBuffer" in messages


def test_huggingface_cache_is_scanned_once_per_blob(tmp_path):
    repo = containers.hf_cache(tmp_path)
    report = run_scan(repo).report
    paths = [f["path"] for f in report["files"]]
    assert paths == [str(repo / "snapshots" / "rev1" / "config.json"),
                     str(repo / "snapshots" / "rev1" / "pytorch_model.bin")]
    assert report["files"][1]["format"] == "pytorch-zip" and report["files"][1]["verdict"] == "safe"


def test_torchscript_is_code_and_its_pickles_are_scanned(tmp_path):
    import torch
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    report = run_scan(path).file()
    assert report["format"] == "torchscript"
    assert report["verdict"] == "suspicious"
    assert "torch.torchscript-code" in {f["rule"] for f in report["findings"]}
    assert any(g.startswith("torch._utils._rebuild_tensor") for g in report["globals"])


def test_pickle_with_a_zip_appended_is_a_polyglot(tmp_path):
    archive = tmp_path / "a.zip"
    subprocess.run(["zip", "-q", "-j", str(archive), str(ROOT / "README.md")], check=True)
    polyglot = tmp_path / "model.bin"
    polyglot.write_bytes(pickle.dumps({"w": 1}, protocol=2) + archive.read_bytes())
    report = run_scan(polyglot).file()
    rules = {f["rule"] for f in report["findings"]}
    # What follows STOP ("PK\x03\x04...") reads as trailing bytes or as a broken second pickle (P is PERSID),
    # depending on the archive's bytes; either way it is a finding, and the polyglot is named.
    assert "polyglot.zip" in rules
    assert rules & {"structure.trailing-bytes", "structure.extra-pickles"}
    assert report["verdict"] == "suspicious"


def test_decompression_bomb_in_gzip_stops_at_the_budget(tmp_path):
    bomb = tmp_path / "bomb.pkl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        for _ in range(2048):
            out.write(b"\x00" * (1 << 20))
    report = run_scan(bomb).file()
    assert "limit.max_decompressed_bytes" in {f["rule"] for f in report["findings"]}
    assert report["verdict"] == "suspicious"


def test_keras_lambda_layers_are_flagged_and_gguf_is_data(tmp_path):
    files = containers.keras_and_gguf_files(tmp_path)
    report = run_scan(tmp_path).by_path()
    for name in ("lambda_keras", "lambda_h5"):
        entry = report[str(files[name])]
        assert entry["verdict"] == "suspicious" and "keras.lambda-layer" in {f["rule"] for f in entry["findings"]}
    for name in ("plain_keras", "plain_h5", "gguf"):
        assert report[str(files[name])]["verdict"] == "safe", report[str(files[name])]
    assert report[str(files["lambda_keras"])]["format"] == "keras"
    assert report[str(files["gguf"])]["format"] == "gguf"


def test_pickles_embedded_in_hdf5_are_found(tmp_path):
    marker = tmp_path / "h5.marker"
    files = containers.hdf5_with_pickled_attributes(tmp_path, str(marker))
    report = run_scan(tmp_path).by_path()
    assert report[str(files["benign"])]["verdict"] == "safe"
    assert "embedded.pickle" in {f["rule"] for f in report[str(files["benign"])]["findings"]}
    assert report[str(files["evil"])]["verdict"] == "malicious"
    # live: reading the attribute back and unpickling it (what PyTables does for object attributes) runs it
    code = ("import h5py, pickle, sys\nwith h5py.File(sys.argv[1]) as f:\n"
            "    pickle.loads(f['weights'].attrs['meta'].tobytes())")
    subprocess.run([sys.executable, "-c", code, str(files["evil"])], check=True, timeout=60)
    assert marker.exists()


def test_legacy_torch_storage_section_is_checked(tmp_path):
    import torch
    good = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(3), "view": torch.arange(10)[2:5], "h": torch.zeros(2, dtype=torch.float16)}, good,
               _use_new_zipfile_serialization=False)
    hidden = tmp_path / "legacy_hidden.pt"
    hidden.write_bytes(good.read_bytes() + b"\x80\x02cposix\nsystem\n.")
    report = run_scan(tmp_path).by_path()
    assert report[str(good)]["verdict"] == "safe"
    assert "torch.legacy-storage-section" in {f["rule"] for f in report[str(hidden)]["findings"]}
    torch.load(hidden, weights_only=False)  # torch itself never reads those bytes


def test_transformers_pickled_checkpoints_are_safe(tmp_path):
    folders = containers.transformers_models(tmp_path)
    report = run_scan(tmp_path).report
    checkpoints = [f for f in report["files"] if f["path"].endswith(".bin")]
    assert len(checkpoints) >= 9 + 2  # nine architectures as single files, and the shards
    assert all(f["format"] == "pytorch-zip" and f["verdict"] == "safe" for f in checkpoints), checkpoints
    # configs, vocabularies and merges are text: not models, and nothing in them would be loaded as code
    others = {f["path"]: f["verdict"] for f in report["files"] if not f["path"].endswith(".bin")}
    assert others and all(verdict in ("safe", "not-a-model") for verdict in others.values()), others
    assert all(others[path] == "not-a-model" for path in others if path.endswith((".txt", ".json"))), others
    from transformers import AutoModel
    AutoModel.from_pretrained(folders["bert"], use_safetensors=False)  # the real loader reads what was scanned


def test_onnx_is_recognised_as_data(tmp_path):
    report = run_scan(containers.onnx_model(tmp_path)).file()
    assert report["format"] == "onnx" and report["verdict"] == "safe"


def test_torch_byteorder_record_is_checked(tmp_path):
    import io
    import zipfile

    import torch
    source = tmp_path / "ok.pt"
    torch.save({"w": torch.ones(2)}, source)
    patched = tmp_path / "odd_byteorder.pt"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(patched, "w") as target:
        for info in original.infolist():
            data = original.read(info.filename)
            target.writestr(info, b"middle" if info.filename.endswith("/byteorder") else data)
    report = run_scan(tmp_path).by_path()
    assert report[str(source)]["verdict"] == "safe"
    assert "torch.bad-byteorder" in {f["rule"] for f in report[str(patched)]["findings"]}
