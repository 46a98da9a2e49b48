"""Zip header tricks on a Sleepy-Pickle torch archive: whatever torch.load still loads, picklewall must scan
and report malicious, together with the anomaly itself."""
import pytest

from fixtures.zip_tricks import TRICKS
from harness import load_in_child, run_scan

EXPECTED_ANOMALY = {
    "zip_zeroed_crc": "zip.crc-mismatch",
    "zip_flag_encrypted": "zip.encrypted-flag",
    "zip_flag_patched_data": "zip.unusual-flags",
    "zip_flag_strong_encryption": "zip.unusual-flags",
    "zip_local_name_mismatch": "zip.name-mismatch",
    "zip_pickle_under_odd_name": None,
    "zip_duplicate_data_pkl": "zip.duplicate-name",
}


@pytest.mark.parametrize("name", sorted(TRICKS))
def test_zip_trick(name, tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / f"{name}.pt"
    path.write_bytes(TRICKS[name](str(marker)))
    child = load_in_child("torch", path, marker)
    live = marker.exists()
    report = run_scan(path).file()
    rules = {f["rule"] for f in report["findings"]}
    if EXPECTED_ANOMALY[name]:
        assert EXPECTED_ANOMALY[name] in rules, rules
    if live:
        assert report["verdict"] == "malicious", report
    else:
        # torch refuses this archive (the trick breaks the loader too): still never safe, payload still named.
        assert report["verdict"] in ("suspicious", "malicious"), (child.stdout, report)
    assert any(f["symbol"] == "builtins.exec" for f in report["findings"]), report


def test_zip_inside_zip_is_opened(tmp_path):
    import io
    import zipfile
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("model/data.pkl", b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00true\x85R.")
    outer = tmp_path / "bundle.zip"
    with zipfile.ZipFile(outer, "w") as archive:
        archive.writestr("weights/inner.zip", inner.getvalue())
    report = run_scan(outer).file()
    assert report["verdict"] == "malicious"
    assert any(f["member"] == "weights/inner.zip/model/data.pkl" for f in report["findings"]), report


def test_password_protected_archives_are_never_safe(tmp_path):
    import subprocess
    payload = tmp_path / "model.pkl"
    payload.write_bytes(b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00true\x85R.")
    subprocess.run(["zip", "-q", "-P", "secret", "locked.zip", "model.pkl"], cwd=tmp_path, check=True)
    subprocess.run(["7z", "a", "-bso0", "-bsp0", "-psecret", "locked.7z", "model.pkl"], cwd=tmp_path, check=True)
    payload.unlink()
    report = run_scan(tmp_path).by_path()
    zip_rules = {f["rule"] for f in report[str(tmp_path / "locked.zip")]["findings"]}
    assert "zip.encrypted-flag" in zip_rules and report[str(tmp_path / "locked.zip")]["verdict"] != "safe"
    seven = report[str(tmp_path / "locked.7z")]
    assert seven["verdict"] != "safe", seven


@pytest.mark.parametrize("method", ["ZIP_LZMA", "ZIP_BZIP2"])
def test_npz_members_compressed_the_other_ways_zipfile_reads_are_scanned(tmp_path, method):
    """numpy.load reads an .npz through zipfile, which inflates bzip2 and LZMA members as well as deflate."""
    import io
    import subprocess
    import sys
    import zipfile

    import numpy as np
    marker = tmp_path / "marker"
    command = f"touch {marker}".encode()
    array = io.BytesIO()
    np.save(array, np.array([None, 1], dtype=object), allow_pickle=True)
    header = array.getvalue()[:array.getvalue().index(b"\n") + 1]  # an object-dtype header, then the pickle
    evil = header + b"\x80\x02cposix\nsystem\nX" + len(command).to_bytes(4, "little") + command + b"\x85R."
    benign = io.BytesIO()
    np.save(benign, np.arange(4.0))
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(path, "w", compression=getattr(zipfile, method)) as archive:
        archive.writestr("weights.npy", benign.getvalue())
        archive.writestr("evil.npy", evil)
    subprocess.run([sys.executable, "-c", "import numpy, sys; numpy.load(sys.argv[1], allow_pickle=True)['evil']",
                    str(path)], capture_output=True, timeout=120)
    assert marker.exists(), "numpy.load must run the member's pickle"
    report = run_scan("--no-hash", path).by_path()[str(path)]
    assert report["verdict"] == "malicious", report
    assert any(f["symbol"] == "posix.system" and f["member"] == "evil.npy" for f in report["findings"]), report

    with zipfile.ZipFile(tmp_path / "clean.npz", "w", compression=getattr(zipfile, method)) as archive:
        archive.writestr("weights.npy", benign.getvalue())
    assert np.load(tmp_path / "clean.npz")["weights"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert run_scan("--no-hash", tmp_path / "clean.npz").by_path()[str(tmp_path / "clean.npz")]["verdict"] == "safe"
