"""The legacy tar checkpoint read the way torch.load reads it: every pickle in `storages` and `tensors`, past
the raw storage bytes between them (tests/fixtures/torch_tar.py)."""
import subprocess
import sys

from fixtures import torch_tar
from harness import run_scan

_LOAD = ("import sys, torch\n"
         "print(torch.load(sys.argv[1], weights_only=False)['weight'].tolist())\n")


def _load(path):
    return subprocess.run([sys.executable, "-c", _LOAD, str(path)], capture_output=True, text=True, timeout=120)


def test_a_benign_tar_checkpoint_loads_and_is_safe(tmp_path):
    path = tmp_path / "old.tar"
    torch_tar.benign(path)
    loaded = _load(path)
    assert loaded.returncode == 0 and loaded.stdout.strip() == "[1.0, 2.0, 3.0]", loaded.stderr
    report = run_scan("--no-hash", path).by_path()[str(path)]
    assert report["format"] == "pytorch-tar", report
    assert report["verdict"] == "safe", report


def test_a_payload_after_the_first_storage_runs_and_is_malicious(tmp_path):
    path, marker = tmp_path / "old.tar", tmp_path / "marker"
    torch_tar.payload_after_the_first_storage(path, marker)
    loaded = _load(path)
    assert loaded.returncode == 0 and loaded.stdout.strip() == "[1.0, 2.0, 3.0]", loaded.stderr
    assert marker.exists(), "the payload must run on torch.load"
    report = run_scan("--no-hash", path).by_path()[str(path)]
    assert report["verdict"] == "malicious", report
    hits = [f for f in report["findings"] if f["symbol"] == "posix.system"]
    assert hits and hits[0]["member"].startswith("storages [pickle 3]"), report["findings"]


def test_a_record_that_stops_being_torch_layout_is_named(tmp_path):
    import io
    import tarfile
    path = tmp_path / "odd.tar"
    torch_tar.benign(path)
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members["storages"] = members["storages"][:-3]  # the storage views pickle is cut
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    report = run_scan("--no-hash", path).by_path()[str(path)]
    assert report["verdict"] != "safe", report
    assert "torch.tar-record-layout" in {f["rule"] for f in report["findings"]}, report


def test_legacy_non_zip_checkpoints_of_protocol_4_and_5_are_read_as_legacy(tmp_path):
    """torch.save(..., _use_new_zipfile_serialization=False, pickle_protocol=4) frames the magic number pickle."""
    import torch
    for protocol in (2, 4, 5):
        path = tmp_path / f"legacy_p{protocol}.pt"
        torch.save({"w": torch.arange(6.0).reshape(2, 3)}, path, pickle_protocol=protocol,
                   _use_new_zipfile_serialization=False)
        assert torch.load(path, weights_only=False)["w"].sum().item() == 15.0
        report = run_scan("--no-hash", path).by_path()[str(path)]
        assert report["format"] == "pytorch-legacy", report
        assert report["verdict"] == "safe", report
