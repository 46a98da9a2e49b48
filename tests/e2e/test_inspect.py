"""`picklewall inspect`: the decompiled view and the opcode listing, with findings at the line that causes them."""
import pickle
import pickletools
import subprocess

from fixtures import advisories, attacks
from harness import picklewall_binary


def inspect(*arguments):
    return subprocess.run([picklewall_binary(), "inspect", "--color", "never", *map(str, arguments)],
                          capture_output=True, text=True, timeout=120)


def lines_after(output: str, code_fragment: str) -> list:
    """The finding lines printed under the first code line containing `code_fragment`."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if code_fragment in line and "^" not in line)
    out = []
    for line in lines[start + 1:]:
        if not line.strip().startswith("^"):
            break
        out.append(line)
    return out


def test_sleepy_pickle_is_shown_statement_by_statement(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(advisories.sleepy_weight_patch(str(tmp_path / "marker")))
    result = inspect(path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("# malicious")
    assert "# --- archive/data.pkl ---" in out
    assert "from torch._utils import _rebuild_tensor_v2" in out
    assert "persistent_load(('storage', FloatStorage, '0', 'cpu', 12))" in out
    # The payload, with its findings under it.
    exec_findings = lines_after(out, "= exec('def patch(model)")
    assert any("malicious [global.dangerous]" in line for line in exec_findings), out
    # The patched model is the call on the first object: the function from eval called on _var0.
    root_call = next(line for line in out.splitlines() if "(_var0)" in line and "=" in line)
    assert any("structure.call-on-root" in line for line in lines_after(out, root_call.split("  ", 2)[-1]))
    assert out.rstrip().splitlines()[-1].split()[-3:] == ["result", "=", root_call.split()[1]]


def test_plain_data_decompiles_to_its_value(tmp_path):
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps({"weights": [1.5, 2.5], "name": "tiny"}, protocol=4))
    result = inspect(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# safe")
    assert "result = {'weights': [1.5, 2.5], 'name': 'tiny'}" in result.stdout


def test_disassembly_lists_every_opcode_at_its_offset(tmp_path):
    data = pickle.dumps({"weights": [1.5, 2.5], "n": 3, "t": (1, None)}, protocol=2)
    path = tmp_path / "data.pkl"
    path.write_bytes(data)
    result = inspect("--disasm", path)
    assert result.returncode == 0, result.stderr
    listed = [line.split()[:2] for line in result.stdout.splitlines()[2:] if line.strip() and line[0] == " "]
    expected = [[str(position), opcode.name] for opcode, _, position in pickletools.genops(data)]
    assert listed == expected


def test_disassembly_marks_the_payload_opcode(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(attacks.run_first(str(tmp_path / "marker")))
    out = inspect("--disasm", path).stdout
    reduce_findings = lines_after(out, "REDUCE")
    assert any("malicious [global.dangerous] builtins.exec" in line for line in reduce_findings), out


def test_findings_in_nested_pickles_are_listed_at_the_top(tmp_path):
    path = tmp_path / "nested.pkl"
    path.write_bytes(advisories.nested_pickle_module_loads(str(tmp_path / "marker")))
    header = inspect(path).stdout.split("# ---")[0]
    assert "[pickle in a constant at offset" in header and "posix.system" in header


def test_files_without_pickles_and_missing_files_are_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n")
    result = inspect(text)
    assert result.returncode == 2 and "no pickle in this file" in result.stderr
    missing = inspect(tmp_path / "missing.pkl")
    assert missing.returncode == 2 and "does not exist" in missing.stderr.lower() + missing.stdout.lower()


def test_line_budget_is_reported(tmp_path):
    path = tmp_path / "many.pkl"
    path.write_bytes(pickle.dumps([{"k": i} for i in range(50)], protocol=2))
    result = inspect("--disasm", "--max-lines", "10", path)
    assert result.returncode == 0
    assert "more line(s) not shown" in result.stdout
