"""One pickle, several programs: CPython's readers (pickle.loads; _pickle.c over io.BytesIO, as torch.load reads a
zip member; _pickle.c over open(); pickle.py, as joblib.load and pickle._loads read) disagree on some bytes, and
each fixture in fixtures/readings.py hides a payload from pickle.loads that a real loader runs. Every fixture is
proven live with its loaders in child processes and shown not to run under the memory reading, then picklewall
must call it malicious and, where the instructions themselves differ, say that the readings diverge. The same
objects from the same writers without surgery must not be called malicious or divergent.

The recording unpickler of the differential test relies on two claims checked here too: _pickle.c over a file
whose peek returns everything left reads as pickle.loads does, and files without a frame-crossing instruction
read the same under file and buffered readings as in memory."""
import json
import subprocess
import sys

import pytest

from fixtures.pickle_generator import corpus
from fixtures.differential import TESTS, write_batch
from fixtures.readings import (BENIGN_WRITES, READING_ATTACKS, buffered_window, load_in_child, write_benign,
                               write_reading_attacks)
from harness import run_scan

DIVERGENCE = "pickle.reading-divergence"
# How a hidden loader may fail: the unpickler refusing the bytes, never the loader snippet itself breaking.
REFUSALS = ("UnpicklingError", "ValueError", "OverflowError", "EOFError")


@pytest.fixture(scope="module")
def attack_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readings")
    return folder, write_reading_attacks(folder, READING_ATTACKS)


@pytest.fixture(scope="module")
def folder_report(attack_files):
    folder, files = attack_files
    for _, _, marker in files.values():
        marker.unlink(missing_ok=True)
    return run_scan(folder).by_path()


@pytest.fixture(scope="module")
def benign_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readings-benign")
    return folder, write_benign(folder)


def _buffered_is_file_like(path) -> bool:
    """The buffered-reader fixture needs a frame larger than open()'s buffer on this file system."""
    return buffered_window(path) < path.stat().st_size // 2


@pytest.mark.parametrize("attack", READING_ATTACKS, ids=[a.name for a in READING_ATTACKS])
def test_reading_attack_is_live(attack, attack_files):
    _, files = attack_files
    _, path, marker = files[attack.name]
    if attack.name == "buffered_frame_straddle" and not _buffered_is_file_like(path):
        pytest.skip(f"open() buffers {buffered_window(path)} bytes here: the whole frame is peeked")
    for loader in attack.live:
        marker.unlink(missing_ok=True)
        child = load_in_child(loader, path, marker)
        assert marker.exists(), f"payload did not run under {loader}: {child.stdout} {child.stderr}"
        marker.unlink()


@pytest.mark.parametrize("attack", READING_ATTACKS, ids=[a.name for a in READING_ATTACKS])
def test_reading_attack_is_hidden_from_memory_reading(attack, attack_files):
    _, files = attack_files
    _, path, marker = files[attack.name]
    for loader in attack.hidden:
        marker.unlink(missing_ok=True)
        child = load_in_child(loader, path, marker)
        assert child.returncode == 0 and "Traceback" not in child.stderr, child.stderr
        raised = [line.split()[2] for line in child.stdout.splitlines() if line.startswith("loader raised:")]
        assert all(error in REFUSALS for error in raised), child.stdout
        assert not marker.exists(), f"{loader} ran the payload, so nothing is hidden: {child.stdout}"


@pytest.mark.parametrize("attack", READING_ATTACKS, ids=[a.name for a in READING_ATTACKS])
def test_reading_attack_is_reported(attack, attack_files, folder_report):
    _, files = attack_files
    _, path, marker = files[attack.name]
    report = folder_report[str(path)]
    assert report["verdict"] == "malicious", report
    reported = {f["rule"] for f in report["findings"]}
    assert set(attack.rules) <= reported, (attack.rules, reported)
    assert attack.payload_global in report["globals"], report["globals"]
    assert not marker.exists(), "scanning must never run the payload"


@pytest.fixture(scope="module")
def benign_report(benign_files):
    folder, _ = benign_files
    return run_scan(folder).by_path()


@pytest.mark.parametrize("name", sorted(BENIGN_WRITES))
def test_real_writers_do_not_diverge(name, benign_files, benign_report):
    _, paths = benign_files
    report = benign_report[str(paths[name])]
    assert report["verdict"] not in ("malicious", "error"), report
    assert DIVERGENCE not in {f["rule"] for f in report["findings"]}, report["findings"]


def _recorder(*arguments, timeout=900) -> dict:
    completed = subprocess.run([sys.executable, "-m", "fixtures.recording_unpickler", *map(str, arguments)],
                               capture_output=True, text=True, cwd=TESTS, timeout=timeout, check=True)
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def claim_batch(tmp_path_factory, attack_files, benign_files):
    """A generated batch (reading seeds and their mutants included) and the plain pickles above."""
    folder = tmp_path_factory.mktemp("readings-claims")
    paths = write_batch(folder, corpus(20261201, 80, 3))
    _, attacks = attack_files
    _, benign = benign_files
    paths += [path for _, path, _ in attacks.values() if path.suffix != ".pt"]
    paths += [path for path in benign.values() if path.suffix != ".pt"]
    return paths


def test_whole_input_reads_as_pickle_loads(claim_batch):
    """_pickle.c over a file whose peek returns everything left imports the same modules in the same order and
    fails with the same error, message included, as pickle.loads of the bytes."""
    differences = _recorder("--check-whole-input", *claim_batch)
    assert differences == {}, json.dumps(dict(list(differences.items())[:3]), indent=1)


def test_file_readings_are_run_wherever_they_can_differ(claim_batch):
    """The recorder skips the file and buffered readings where no instruction crosses a frame's end: running
    them everywhere resolves the same globals."""
    shortcut = _recorder(*claim_batch)
    every = _recorder("--every-reading", *claim_batch)
    for path in map(str, claim_batch):
        for reading in ("memory", "file", "buffered", "python"):
            assert shortcut[path]["readings"][reading]["globals"] == every[path]["readings"][reading]["globals"], \
                (path, reading)
    diverging = [p for p in map(str, claim_batch)
                 if set(every[p]["readings"]["file"]["globals"]) != set(every[p]["readings"]["memory"]["globals"])]
    assert diverging, "the batch must hold files whose file reading resolves other globals"


def test_recorder_sees_each_reading(attack_files):
    """The differential test's recorder resolves each fixture's payload under the reading that runs it."""
    _, files = attack_files
    expected = {"bytesio_frame_straddle": {"file"}, "buffered_frame_straddle": {"file", "buffered"},
                "overlong_frame": {"python"}, "unterminated_inst": {"python"}}
    if not _buffered_is_file_like(files["buffered_frame_straddle"][1]):
        expected["buffered_frame_straddle"] = {"file"}
    recorded = _recorder(*(files[name][1] for name in expected))
    for name, readings in expected.items():
        result = recorded[str(files[name][1])]
        resolved = {reading for reading, r in result["readings"].items() if "os.system" in r["globals"]}
        assert resolved == readings, (name, result["readings"])
        assert "os.system" in result["globals"]
