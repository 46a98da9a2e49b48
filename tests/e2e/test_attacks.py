"""Every attack fixture is proven live with its real loader in a child process, then must be reported
as malicious (never safe) by picklewall."""
import shutil

import pytest

from fixtures.advisories import ADVISORY_ATTACKS
from fixtures.attacks import ATTACKS as SPEC_ATTACKS, write_attacks
from fixtures.mechanisms import MECHANISM_ATTACKS
from harness import load_in_child, run_scan

ATTACKS = SPEC_ATTACKS + ADVISORY_ATTACKS + MECHANISM_ATTACKS


@pytest.fixture(scope="module")
def attack_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attacks")
    return folder, write_attacks(folder, ATTACKS)


@pytest.fixture(scope="module")
def folder_report(attack_files):
    folder, _ = attack_files
    return run_scan(folder).by_path()


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_is_live(attack, attack_files):
    _, files = attack_files
    _, path, marker = files[attack.name]
    if attack.not_live_because:
        pytest.skip(attack.not_live_because)
    marker.unlink(missing_ok=True)
    child = load_in_child(attack.loader, path, marker, attack.setup, attack.check)
    if attack.check == "__EXIT__":
        assert child.returncode == 0 and "loader raised" not in child.stdout, child.stdout + child.stderr
        # sys.exit(0) inside the load ends the child before the loader returns: nothing after it runs.
        assert child.stdout == "", child.stdout
        return
    assert marker.exists(), f"payload did not run under {attack.loader}: {child.stdout} {child.stderr}"
    if marker.is_dir():  # venv.create makes a folder
        shutil.rmtree(marker)
    else:
        marker.unlink()


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_is_reported(attack, attack_files, folder_report):
    _, files = attack_files
    _, path, marker = files[attack.name]
    report = folder_report[str(path)]
    assert report["verdict"] == attack.expected, report
    assert any(f["severity"] == "malicious" for f in report["findings"]), report
    reported = {f["rule"] for f in report["findings"]}
    assert set(attack.rules) <= reported, (attack.rules, reported)
    assert not marker.exists(), "scanning must never run the payload"


def test_scanning_attacks_exits_one(attack_files):
    folder, _ = attack_files
    assert run_scan(folder).returncode == 1
