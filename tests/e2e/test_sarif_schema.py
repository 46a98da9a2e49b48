"""SARIF output validated against OASIS's SARIF 2.1.0 JSON schema with a JSON-schema validator, over every kind of
result the scanner produces: malicious, suspicious, safe, info findings, unreadable files and containers."""
import json
import subprocess

import jsonschema
import pytest

from fixtures import benign
from fixtures.advisories import ADVISORY_ATTACKS
from fixtures.attacks import ATTACKS, write_attacks
from harness import ROOT, picklewall_binary

SCHEMA = ROOT / "build" / "test-data" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator():
    if not SCHEMA.is_file():
        pytest.fail(f"{SCHEMA} is missing: scripts/install_deps.sh fetches it")
    schema = json.loads(SCHEMA.read_text())
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def sarif_of(*arguments):
    completed = subprocess.run([picklewall_binary(), "scan", "--format", "sarif", *map(str, arguments)],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode in (0, 1, 2), completed.stderr
    return json.loads(completed.stdout)


def assert_valid(validator, log):
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_every_attack_and_benign_file_gives_valid_sarif(tmp_path, validator):
    write_attacks(tmp_path, ATTACKS + ADVISORY_ATTACKS)
    benign.write_pickles(tmp_path)
    benign.write_torch(tmp_path)
    benign.write_numpy_files(tmp_path)
    (tmp_path / "unknown_class.pkl").write_bytes(b"\x80\x02cmy_package.layers\nCustom\nq\x00)\x81q\x01.")
    (tmp_path / "truncated.pkl").write_bytes(b"\x80\x02]q\x00(K\x01")
    log = sarif_of("--show-info", tmp_path)
    levels = {result["level"] for result in log["runs"][0]["results"]}
    assert {"error", "warning"} <= levels, levels  # malicious and suspicious results are both in the log
    assert_valid(validator, log)


def test_unreadable_path_and_empty_scan_give_valid_sarif(tmp_path, validator):
    assert_valid(validator, sarif_of(tmp_path / "does-not-exist.bin"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_valid(validator, sarif_of(empty))


def test_the_validator_rejects_a_broken_log(tmp_path, validator):
    """The check has teeth: the same log with a result level SARIF does not define is refused."""
    (tmp_path / "evil.pkl").write_bytes(b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueR.")
    log = sarif_of(tmp_path)
    assert_valid(validator, log)
    log["runs"][0]["results"][0]["level"] = "critical"
    assert list(validator.iter_errors(log))
