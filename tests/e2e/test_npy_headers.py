""".npy headers are read as numpy reads them (ast.literal_eval, then numpy.dtype): every spelling of an object
dtype that numpy.load(allow_pickle=True) accepts makes it unpickle the data, so picklewall must scan that data as
a pickle; numpy's own writers at every header version stay safe."""
import pytest

from fixtures.npy_headers import HIDDEN_HEADERS, REFUSED, benign_arrays, write_benign
from harness import load_in_child, run_scan

BENIGN = benign_arrays()


@pytest.fixture(scope="module")
def hidden_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("npy_headers")
    files = {}
    for fixture in HIDDEN_HEADERS:
        marker = folder / f"{fixture.name}.marker"
        path = folder / f"{fixture.name}.npy"
        path.write_bytes(fixture.build(str(marker)))
        files[fixture.name] = (path, marker)
    return folder, files


@pytest.fixture(scope="module")
def hidden_report(hidden_files):
    folder, _ = hidden_files
    return run_scan(folder).by_path()


@pytest.mark.parametrize("fixture", HIDDEN_HEADERS, ids=[f.name for f in HIDDEN_HEADERS])
def test_hidden_header_is_live(fixture, hidden_files):
    _, files = hidden_files
    path, marker = files[fixture.name]
    marker.unlink(missing_ok=True)
    child = load_in_child("numpy", path, marker)
    if fixture.name in REFUSED:
        assert not marker.exists() and "loader raised: ValueError" in child.stdout, child.stdout + child.stderr
        return
    assert marker.exists(), f"numpy.load did not run the payload: {child.stdout} {child.stderr}"
    marker.unlink()


@pytest.mark.parametrize("fixture", HIDDEN_HEADERS, ids=[f.name for f in HIDDEN_HEADERS])
def test_hidden_header_is_reported(fixture, hidden_files, hidden_report):
    _, files = hidden_files
    path, marker = files[fixture.name]
    report = hidden_report[str(path)]
    rules = {f["rule"] for f in report["findings"]}
    if fixture.name in REFUSED:
        # numpy refuses the header, but the pickle after it is judged all the same: never safe.
        assert report["verdict"] != "safe" and "numpy.malformed-header" in rules, report
        return
    assert report["verdict"] == "malicious", report
    assert "numpy.object-array" in rules, report
    assert not marker.exists(), "scanning must never run the payload"


@pytest.fixture(scope="module")
def benign_files(tmp_path_factory):
    import numpy
    folder = tmp_path_factory.mktemp("npy_benign")
    written = {}
    for name, array, version in BENIGN:
        path = folder / f"{name}.npy"
        if write_benign(path, array, version):
            written[name] = path
    for name, array, _ in BENIGN:  # numpy.save picks the oldest version that holds the header
        path = folder / f"{name.rsplit('_v', 1)[0]}_saved.npy"
        numpy.save(path, array)
        written[path.stem] = path
    return folder, written


def test_numpy_writers_cover_every_version(benign_files):
    _, written = benign_files
    for version in ("v1", "v2", "v3"):
        assert any(name.endswith(version) for name in written), version
    # Field names outside latin-1 need version 3.0: numpy.save must have picked it.
    saved = written["unicode_field_names_saved"].read_bytes()
    assert saved[6:8] == b"\x03\x00"


def test_numpy_writers_stay_safe(benign_files):
    folder, written = benign_files
    report = run_scan(folder).by_path()
    for name, path in written.items():
        entry = report[str(path)]
        assert entry["verdict"] == "safe", (name, entry)
