"""No stage costs more than O(n log n) in a size the attacker chooses: for each stage and each such size, the input
is doubled three times and the work of the whole command (less the work of a command with nothing to do) may at
most double each time. Work is counted in instructions, by valgrind's callgrind: the same count on a quiet and on
a loaded machine, and blind to cache effects, so the ratios are the algorithm's. Superlinear work (every run of a
name's parts joined, every call's constant decoded again, a path copied into every child's name) shows up as a
ratio near 4.

And every stage's worst 64 KB file ends well inside the default time budget, with the limit it reached named."""
import json
import re
import shutil
import subprocess
import time

import pytest

from fixtures import cost_inputs
from harness import picklewall_binary

# Counted under valgrind, which a sanitizer build's runtime does not run under: the release pass runs these.
pytestmark = [pytest.mark.cost,
              pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is installed by install_deps.sh")]

# (stage, command, size generator, smallest size): the work of the smallest well above the command's own.
CASES = [
    ("judgement", "scan", cost_inputs.name_parts, 20_000),
    ("judgement", "scan", cost_inputs.memo_reused_names, 2_000),
    ("decoder", "scan", cost_inputs.name_bytes, 400_000),
    ("machine", "scan", cost_inputs.memo_entries, 100_000),
    ("machine", "scan", cost_inputs.stack_depth, 100_000),
    ("machine", "scan", cost_inputs.nesting, 1_200),  # up to max_nesting_depth (10,000)
    ("analysis", "scan", cost_inputs.distinct_globals, 500),
    ("payloads", "scan", cost_inputs.calls_sharing_a_constant, 500),
    ("payloads", "scan", cost_inputs.calls_sharing_arguments, 500),
    ("messages", "scan", cost_inputs.call_arguments, 100_000),
    ("archives", "scan", cost_inputs.zip_members, 1_000),
    ("archives", "scan", cost_inputs.tar_members, 250),
    ("inspect", "inspect", cost_inputs.distinct_globals, 500),
    ("inspect", "inspect", cost_inputs.calls_sharing_arguments, 250),
    ("convert", "convert", cost_inputs.many_arrays, 500),
    ("convert", "convert", cost_inputs.tied_views, 500),
    ("convert", "convert", cost_inputs.nested_dict_names, 1_000),
]


_overheads = {}


def instructions(command) -> int:
    """Instructions `command` executes, counted by callgrind (its own start-up included)."""
    completed = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
                               capture_output=True, text=True, timeout=900)
    counted = re.search(r"Collected : (\d+)", completed.stderr)
    assert counted, completed.stderr[-2000:]
    return int(counted.group(1))


def command_for(stage_command: str, path, out) -> list:
    binary = picklewall_binary()
    if stage_command == "scan":
        return [binary, "scan", "--no-sandbox", "--no-hash", "-f", "json", str(path)]
    if stage_command == "inspect":
        return [binary, "inspect", "--no-sandbox", str(path)]
    return [binary, "convert", "--no-sandbox", str(path), str(out)]


@pytest.mark.parametrize("stage, stage_command, generator, smallest", CASES,
                         ids=[f"{stage}-{generator.__name__}" for stage, _, generator, _ in CASES])
def test_doubling_the_input_at_most_doubles_the_time(tmp_path, stage, stage_command, generator, smallest):
    if stage_command not in _overheads:  # the command's own work: start-up, policies, a pickle of None
        empty = tmp_path / "empty.pkl"
        empty.write_bytes(b"N.")
        _overheads[stage_command] = instructions(command_for(stage_command, empty, tmp_path / "empty.safetensors"))
    overhead = _overheads[stage_command]
    work = []
    for step in range(4):
        path = tmp_path / f"input{step}.bin"
        path.write_bytes(generator(smallest * 2 ** step))
        work.append(instructions(command_for(stage_command, path, tmp_path / f"out{step}.safetensors")) - overhead)
    assert work[0] > 200_000, (work, overhead)  # the input's own work is what is measured
    ratios = [later / earlier for earlier, later in zip(work, work[1:])]
    print(f"{stage} {generator.__name__}: {work} instructions, ratios {['%.2f' % r for r in ratios]}")
    # Doubling the size at most doubles the work: n log n over these sizes is at most 2.2 a step, a square 4.
    assert max(ratios) <= 2.2, (work, ratios)


# The worst 64 KB file of each kind, and the limit it must report (the analysis cannot go on, or goes on and says
# how far past a limit the file is).
HOSTILE_64K = [
    ("name parts", lambda: cost_inputs.name_parts(32_000), "limit.max_name_parts"),
    ("memo-reused names", lambda: cost_inputs.memo_reused_names(5_000), "limit.max_name_parts"),
    ("nesting", lambda: cost_inputs.nesting(32_000), "limit.max_nesting_depth"),
    ("open marks", lambda: b"\x80\x04" + b"(" * 65_000 + b".", "limit.max_marks"),
    ("archive nesting", None, "limit.max_archive_depth"),
    ("constant nesting", None, "limit.max_archive_depth"),
    ("decompression", None, "limit.max_decompressed_bytes"),
    # 2**4000 paths through 4,000 tuples: no walk may follow them (this one needs no limit, and must not
    # take long either).
    ("shared subtrees", lambda: cost_inputs.dag(4_000), None),
    # A call of 30,000 arguments and a stack of 60,000 objects: the finding's message shows a bounded part.
    ("call arguments", lambda: cost_inputs.call_arguments(30_000), None),
    ("stack depth", lambda: cost_inputs.stack_depth(30_000), None),
]


def nested_zips(depth: int) -> bytes:
    import io
    import zipfile
    data = cost_inputs.name_parts(3)
    for level in range(depth):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"level{level}", data)
        data = buffer.getvalue()
    return data


def nested_constants(depth: int) -> bytes:
    """A pickle that passes exec a base64 pickle that passes exec a base64 pickle..."""
    import base64
    inner = b"\x80\x04" + cost_inputs.text("os") + cost_inputs.text("system") + b"\x93" + cost_inputs.text("true") + b"\x85R."
    for _ in range(depth):
        encoded = base64.b64encode(inner).decode()
        inner = (b"\x80\x04" + cost_inputs.text("pickle") + cost_inputs.text("loads") + b"\x93" +
                 cost_inputs.text("base64") + cost_inputs.text("b64decode") + b"\x93" + cost_inputs.text(encoded) +
                 b"\x85R\x85R.")
    return inner


def gzip_bomb() -> bytes:
    import gzip
    return gzip.compress(b"\x00" * (60 << 20), compresslevel=9)


@pytest.mark.parametrize("kind, make, rule", HOSTILE_64K, ids=[kind for kind, _, _ in HOSTILE_64K])
def test_the_worst_64_kib_file_of_each_kind_ends_in_its_limit(tmp_path, kind, make, rule):
    data = {"archive nesting": lambda: nested_zips(8), "constant nesting": lambda: nested_constants(8),
            "decompression": gzip_bomb}.get(kind, make)()
    assert len(data) <= 64 * 1024, len(data)
    path = tmp_path / "hostile.bin"
    path.write_bytes(data)
    started = time.monotonic()
    completed = subprocess.run([picklewall_binary(), "scan", "-f", "json", str(path)], capture_output=True, text=True,
                               timeout=120)  # the default time budget
    assert time.monotonic() - started < 30  # a quarter of it, sanitizer builds included
    report = json.loads(completed.stdout)["files"][0]
    rules = {finding["rule"] for finding in report["findings"]}
    if rule is None:
        assert completed.returncode in (0, 1), completed.stderr
        return
    assert rule in rules, (kind, sorted(rules))
    assert report["verdict"] in ("suspicious", "malicious"), report["verdict"]
    assert completed.returncode == 1
