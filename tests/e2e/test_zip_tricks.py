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
