"""Hostile input ends in findings within the limits, never a crash or a hang, and never a clean verdict."""
import pickle
import random

import pytest

from fixtures.hostile import hostile_files
from harness import run_scan


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    for name, data in hostile_files().items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def report(hostile):
    return run_scan(hostile, timeout=600).by_path()


# Inputs every unpickler rejects at their first opcode: nothing can run, and they are reported as files in no
# known format (never skipped). Not global_no_newline ("cos\nsys" + "t" * 100,000): _pickle.c refuses the
# unterminated line, but pickle.py (joblib.load, pickle._loads) reads it, cuts one byte and imports os before
# the attribute walk fails, so it is judged like any other pickle (and must not be safe).
REJECTED_AT_FIRST_OPCODE = {"garbage", "all_ff", "binstring_negative", "proto_99", "empty_pickle_stop",
                            "setitems_odd", "truncated_1"}


def test_no_hostile_file_crashes_and_none_is_safe(hostile, report):
    assert len(report) == len(list(hostile.iterdir()))
    for path, file in report.items():
        name = path.rsplit("/", 1)[-1]
        if name in REJECTED_AT_FIRST_OPCODE:
            assert file["format"] == "unknown" and file["findings"][0]["rule"] == "format.unknown", file
            continue
        assert file["verdict"] in ("suspicious", "malicious"), (name, file)


@pytest.mark.parametrize("name,rule", [
    ("marks_1e6", "limit.max_marks"),
    ("dup_bomb", "limit.max_stack_depth"),
    ("nested_lists_1e6", "limit.max_nesting_depth"),
    ("nested_tuples_deep", "limit.max_nesting_depth"),
    ("binbytes8_2pow63", "pickle.malformed"),
    ("frame_huge", "pickle.malformed"),
    ("long_text_line", "limit.max_line_bytes"),
    ("zip_bomb", "limit.max_decompressed_bytes"),
    ("zip_nested_8", "limit.max_archive_depth"),
    ("zip_many_bombs", "limit.max_total_decompressed_bytes"),
    ("stack_global_empty", "pickle.malformed"),
])
def test_limits_and_damage_are_named(report, hostile, name, rule):
    rules = {f["rule"] for f in report[str(hostile / name)]["findings"]}
    assert rule in rules, rules


def test_every_truncation_of_a_real_pickle_is_never_safe(tmp_path):
    data = pickle.dumps({"weights": [0.5] * 20, "names": ["a", "b"], "nested": {"k": (1, 2)}}, protocol=2)
    for cut in range(2, len(data)):  # a lone PROTO byte is not recognisable as anything
        (tmp_path / f"cut_{cut:04d}").write_bytes(data[:cut])
    report = run_scan(tmp_path)
    assert all(f["verdict"] != "safe" for f in report.report["files"])


def test_random_mutations_never_crash(tmp_path):
    rng = random.Random(11)
    seed = pickle.dumps([{"a": 1, "b": [1.5, None, "x" * 40]}, (1, 2), b"bytes"] * 5, protocol=4)
    for index in range(1500):
        data = bytearray(seed)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        (tmp_path / f"m{index:04d}").write_bytes(bytes(data))
    report = run_scan(tmp_path)
    assert len(report.report["files"]) == 1500


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    from fixtures.hostile import bomb_files
    return bomb_files(tmp_path_factory.mktemp("bombs"))


@pytest.mark.parametrize("name", ["gzip_bomb.pkl.gz", "zlib_bomb.pkl.z", "bz2_bomb.pkl.bz2", "xz_bomb.pkl.xz",
                                  "sevenzip_bomb.7z", "joblib_bomb.joblib"])
def test_decompression_bombs_stop_at_the_budget(bombs, name):
    """Each bomb's content (a 64 MiB pickle of zeros) compresses beyond the 1000:1 ratio budget: inflating stops
    there, with a limit finding, and the cut-off pickle is reported as such, never as safe data."""
    file = run_scan(bombs[name]).file()
    rules = {f["rule"] for f in file["findings"]}
    assert "limit.max_decompressed_bytes" in rules, (name, rules)
    assert file["verdict"] == "suspicious", file


def test_decompression_is_bounded_by_the_time_budget_too(hostile):
    """Six members of 512 MiB of zeros take seconds to inflate within the byte budgets; with half a second per
    file, inflating stops at the clock and says so."""
    file = run_scan("--max-seconds-per-file", "0.5", hostile / "zip_many_bombs").file()
    rules = {f["rule"] for f in file["findings"]}
    assert "limit.max_seconds_per_file" in rules, rules
    assert file["verdict"] == "suspicious"
