"""Scanning many files: worker threads (-j), the progress line, the verdict cache (--cache) and the per-file
memory budget. Every case runs the real binary over files written by the real writers and the attack fixtures."""
import io
import os
import pickle
import pty
import re
import sqlite3
import subprocess
import time
import zipfile

import pytest

from fixtures import benign
from fixtures.advisories import ADVISORY_ATTACKS
from fixtures.attacks import ATTACKS, write_attacks
from fixtures.hostile import hostile_files
from harness import picklewall_binary


def run(*arguments, stderr=subprocess.PIPE):
    return subprocess.run([picklewall_binary(), "scan", *map(str, arguments)], stdout=subprocess.PIPE, stderr=stderr,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """Attacks, benign data of every format, and hostile inputs: a folder like a small model bucket."""
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "attacks").mkdir()
    (folder / "benign").mkdir()
    (folder / "hostile").mkdir()
    write_attacks(folder / "attacks", ATTACKS + ADVISORY_ATTACKS)
    benign.write_pickles(folder / "benign")
    benign.write_torch(folder / "benign")
    benign.write_numpy_files(folder / "benign")
    for name, data in hostile_files().items():
        if "bomb" not in name or not name.startswith("zip"):  # zip bombs take seconds each, by design (test_hostile)
            (folder / "hostile" / name).write_bytes(data)
    # Member names that are not UTF-8 end up in findings: a cached report must keep them byte for byte.
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("Xvil.pkl", b"\x80\x02cos\nsystem\nX\x01\x00\x00\x00a\x85R.")
    (folder / "hostile" / "latin1_member.zip").write_bytes(archive.getvalue().replace(b"Xvil.pkl", b"\xe9vil.pkl"))
    return folder


def test_reports_do_not_depend_on_the_number_of_workers(mixed):
    single = run("-f", "json", "-j", "1", mixed)
    assert single.returncode == 1  # the attacks
    files = len(list(p for p in mixed.rglob("*") if p.is_file()))
    assert single.stdout.count('"path"') == files > 200
    for jobs in ("2", "4", "16"):
        assert run("-f", "json", "-j", jobs, mixed).stdout == single.stdout, f"-j {jobs} changed the report"
    assert run("-f", "json", mixed).stdout == single.stdout  # default: one worker per core


def test_progress_is_silent_unless_stderr_is_a_terminal(mixed):
    piped = run("-f", "json", mixed / "benign")
    assert piped.stderr == ""
    forced = run("-f", "json", "--progress", "always", mixed / "benign")
    assert "scanning " in forced.stderr and "scanned " in forced.stderr and forced.stdout == piped.stdout


def run_on_terminal(*arguments):
    """Runs the scan with stderr on a pseudo-terminal (stdout stays a pipe): what a person at a shell sees."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([picklewall_binary(), "scan", *map(str, arguments)], stdout=subprocess.PIPE,
                               stderr=follower, text=True)
    os.close(follower)
    stdout, _ = process.communicate(timeout=300)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    return process.returncode, stdout, seen.decode()


def test_progress_line_on_a_terminal(mixed):
    files = len(list(p for p in (mixed / "benign").rglob("*") if p.is_file()))
    code, stdout, terminal = run_on_terminal("-f", "json", mixed / "benign")
    assert code == 0 and '"schema": 1' in stdout
    assert f"/{files} files" in terminal and "B/s" in terminal
    assert f"scanned {files} files" in terminal and terminal.endswith("\n")
    assert "\r" in terminal and "\x1b[K" in terminal  # redrawn in place
    _, _, quiet = run_on_terminal("-f", "json", "--progress", "never", mixed / "benign")
    assert quiet == ""


def cache_hits(result) -> int:
    """Files answered from the cache, as the closing progress line says."""
    summary = re.findall(r"scanned \d+ files[^\r\n]*", result.stderr)[-1]
    hits = re.search(r", (\d+) from cache", summary)
    return int(hits.group(1)) if hits else 0


def test_cache_gives_the_same_reports_and_skips_the_work(mixed, tmp_path):
    cache = tmp_path / "verdicts.sqlite"
    plain = run("-f", "json", mixed)
    first = run("-f", "json", "--progress", "always", "--cache", cache, mixed)
    second = run("-f", "json", "--progress", "always", "--cache", cache, "-j", "2", mixed)
    assert first.stdout == plain.stdout == second.stdout
    assert first.returncode == second.returncode == plain.returncode == 1
    files = plain.stdout.count('"path"')
    stored = sqlite3.connect(cache).execute("SELECT count(*) FROM verdicts").fetchone()[0]
    # Only verdicts that hit the time budget or could not be read are not stored; none of these do.
    assert cache_hits(first) == 0 and stored == files
    assert cache_hits(second) == files
    text = [subprocess.run([picklewall_binary(), "scan", "--color", "never", *extra, str(mixed)], capture_output=True,
                           timeout=300).stdout for extra in ((), ("--cache", str(cache)))]
    assert text[0] == text[1] and b"\xe9vil" in text[0]


def test_a_changed_policy_or_mode_misses_the_cache(tmp_path):
    target = tmp_path / "model.pkl"
    target.write_bytes(b"\x80\x02cacme_models\nTinyNet\n)\x81.")  # an unknown class: suspicious by default
    policy = tmp_path / "acme.toml"
    policy.write_text('[policy]\nname = "acme"\nversion = "1"\n\n[[allow]]\nreason = "our own class"\n'
                      'effects = ["reference", "call"]\nsymbols = ["acme_models.TinyNet"]\n')
    cache = tmp_path / "verdicts.sqlite"
    assert run("--cache", cache, target).returncode == 1
    allowed = run("-f", "json", "--progress", "always", "--cache", cache, "--policy", policy, target)
    assert allowed.returncode == 0 and '"verdict": "safe"' in allowed.stdout and cache_hits(allowed) == 0
    strict = run("-f", "json", "--progress", "always", "--cache", cache, "--strict", target)
    assert cache_hits(strict) == 0
    again = run("-f", "json", "--progress", "always", "--cache", cache, target)
    assert again.returncode == 1 and cache_hits(again) == 1
    budget = run("-f", "json", "--progress", "always", "--cache", cache, "--max-memory-per-file", "64MB", target)
    assert cache_hits(budget) == 0


def test_a_rewritten_file_is_scanned_again(tmp_path):
    target = tmp_path / "weights.pkl"
    target.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
    cache = tmp_path / "verdicts.sqlite"
    time.sleep(2.2)  # let the file's stamp settle, so the cache remembers it and skips hashing next time
    assert run("--cache", cache, target).returncode == 0
    assert sqlite3.connect(cache).execute("SELECT count(*) FROM stamps").fetchone()[0] == 1
    stamp = os.stat(target)
    # Same size, same mtime (put back as an attacker would); only ctime, which no process can set, changes.
    payload = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R."
    target.write_bytes(payload + b"\x00" * (stamp.st_size - len(payload)))
    os.utime(target, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert os.stat(target).st_size == stamp.st_size and os.stat(target).st_mtime_ns == stamp.st_mtime_ns
    rescanned = run("-f", "json", "--cache", cache, target)
    assert rescanned.returncode == 1 and '"verdict": "malicious"' in rescanned.stdout


def test_files_that_are_not_a_cache_are_refused_and_left_alone(tmp_path):
    target = tmp_path / "a.pkl"
    target.write_bytes(pickle.dumps([1, 2, 3]))
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    other = tmp_path / "app.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE users(name TEXT)")
        connection.execute("INSERT INTO users VALUES ('ada')")
    before = other.read_bytes()
    for path, message in ((text, "not a SQLite database"), (other, "not a picklewall cache"),
                          (tmp_path, "is a directory"), (tmp_path / "missing" / "c.sqlite", "cannot open")):
        result = run("--cache", path, target)
        assert result.returncode == 2 and message in result.stderr and result.stdout == ""
    assert text.read_text() == "not a database\n" and other.read_bytes() == before
    assert run("--cache", tmp_path / "c.sqlite", "--no-hash", target).returncode == 2


def test_processes_sharing_a_cache(mixed, tmp_path):
    cache = tmp_path / "shared.sqlite"
    command = [picklewall_binary(), "scan", "-f", "json", "-j", "1", "--cache", str(cache), str(mixed)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [process.communicate(timeout=300) for process in processes]
    reference = run("-f", "json", mixed).stdout
    for (stdout, stderr), process in zip(outputs, processes):
        assert process.returncode == 1 and stdout == reference and "warning" not in stderr


def test_memory_budget_ends_in_a_finding(tmp_path):
    target = tmp_path / "many_objects.pkl"
    target.write_bytes(pickle.dumps([{"k": str(i), "v": [i, i + 1]} for i in range(300_000)], protocol=4))
    assert run(target).returncode == 0
    limited = run("-f", "json", "--max-memory-per-file", "4MB", target)
    assert limited.returncode == 1
    assert '"rule": "limit.max_memory_per_file"' in limited.stdout and '"verdict": "suspicious"' in limited.stdout
