"""Generates policies/sinks.toml: every public function, method and class of the standard library and of the ML
libraries people load models with whose call reaches a sink (exec/eval, process creation, import by name, file
writes, the network, unpickling, process-wide settings), with the call chain that proves it.

The source is read with `ast` only; nothing it judges is imported (importlib.util.find_spec locates a package's
directory without running it). Calls are resolved through each module's imports and aliases, `self.method`
through the class and its bases, re-exports (`from .mod import f`, star imports, six.moves) to the object they
name, and followed transitively up to MAX_DEPTH hops.

A sink whose danger depends on an argument (exec's source, import_module's name, open's mode, numpy.load's
allow_pickle, torch.load's weights_only) only counts when that argument is decidably dangerous (a write mode) or
comes from the caller's own parameters: `importlib.import_module("torch._dynamo")` is not an import by name a
pickle controls, `exec(source)` with `source` a parameter is. Dependence is followed syntactically through
local assignments (flow-insensitive) and through argument binding at every hop; attributes of `self` count as
controlled, since BUILD sets them.

    python3 scripts/make_sink_catalogue.py                    # write policies/sinks.toml
    python3 scripts/make_sink_catalogue.py --check policies/sinks.toml   # exit 1 listing what the file lacks

Per-file extracts are cached under ~/.cache/picklewall/sink-walk (keyed by path, size, mtime and this script's
version), so a second run does not parse again.
"""
import argparse
import ast
import builtins
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import sysconfig
import time
import tomllib
from pathlib import Path

GENERATOR_VERSION = "2"
ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "policies" / "sinks.toml"
MAX_DEPTH = 10
MAX_ENTRIES = 8000
CACHE_DIR = Path(os.environ.get("PICKLEWALL_SINK_CACHE", Path.home() / ".cache" / "picklewall" / "sink-walk"))

# Third-party packages walked when installed: the ones models are loaded with, and those their pickles name.
LIBRARIES = ["torch", "numpy", "scipy", "pandas", "sklearn", "joblib", "transformers", "huggingface_hub", "sympy",
             "jinja2", "markupsafe", "six", "dill", "cloudpickle", "keras", "lightgbm", "safetensors", "xgboost",
             "catboost", "tokenizers", "accelerate", "timm", "onnx", "h5py", "gguf", "fickling", "yaml"]
DISTRIBUTIONS = {"sklearn": "scikit-learn", "yaml": "PyYAML"}

KINDS = {
    "code": "evaluates or compiles Python source it is handed",
    "process": "starts a process",
    "import": "imports a module named at run time",
    "file": "writes, moves or deletes files",
    "network": "opens network connections or resolves names",
    "unpickle": "unpickles data (a pickle inside the pickle)",
    "process-state": "changes process-wide state (tracing, audit hooks, environment, working directory, "
                     "module search path, torch defaults and safe globals)",
}
# Classes are not called the way functions are: a benign pickle makes objects with copyreg._reconstructor or
# NEWOBJ (cls.__new__), never cls.__init__, and then BUILDs them. So what a class's construction reaches is kept
# apart by the method that runs, and only __new__ goes with the functions.
CLASS_KINDS = {
    "class-init": "the class's __init__ reaches a sink: dangerous when a pickle calls the class with REDUCE/INST/"
                  "OBJ (cls(*args)); NEWOBJ and copyreg._reconstructor do not run __init__",
    "class-setstate": "the class's __setstate__ reaches a sink: runs when an object of it receives BUILD",
    "class-mutate": "the class's append/extend/__setitem__ reaches a sink: runs under APPEND/APPENDS/SETITEM(S)",
}

# Argument predicates: what makes a sink's argument dangerous.
#   code     any value that is not a constant and comes from the caller's parameters
#   mode     open's mode: a constant with w/a/x/+, or any non-constant
#   flags    os.open's flags: names O_WRONLY/O_RDWR/O_CREAT/O_TRUNC/O_APPEND, or anything undecidable
#   true     numpy's allow_pickle: constant True, or any non-constant
#   false    torch.load's weights_only: constant False, or any non-constant (omitted means True since torch 2.6)
ALWAYS = None


def arg(position, name, predicate, default):
    return (position, name, predicate, default)


SINKS = {}


def sinks(kind, names, spec=ALWAYS):
    for name in names.split():
        SINKS[name] = (kind, spec)


sinks("code", "builtins.exec builtins.eval builtins.compile", arg(0, "source", "code", None))
sinks("import", "builtins.__import__ importlib.import_module importlib.__import__ pkgutil.resolve_name pydoc.locate "
      "importlib._bootstrap._gcd_import", arg(0, "name", "code", None))
sinks("import", "importlib.util.spec_from_file_location", arg(1, "location", "code", None))
sinks("file", "builtins.open io.open _io.open", arg(1, "mode", "mode", "r"))
sinks("file", "os.open", arg(1, "flags", "flags", None))
sinks("file", "os.remove os.unlink os.rename os.renames os.replace os.rmdir os.removedirs os.mkdir os.makedirs "
      "os.truncate os.chmod os.chown os.lchown os.link os.symlink os.utime os.mkfifo os.mknod "
      "shutil.copy shutil.copy2 shutil.copyfile shutil.copytree shutil.rmtree shutil.move shutil.make_archive "
      "shutil.unpack_archive shutil.chown shutil.copymode shutil.copystat "
      "pathlib.Path.write_text pathlib.Path.write_bytes pathlib.Path.unlink pathlib.Path.rmdir pathlib.Path.rename "
      "pathlib.Path.replace pathlib.Path.touch pathlib.Path.mkdir pathlib.Path.chmod pathlib.Path.symlink_to "
      "pathlib.Path.hardlink_to pathlib.Path.lchmod")
sinks("file", "pathlib.Path.open", arg(0, "mode", "mode", "r"))
sinks("process", "os.system os.popen os.execl os.execle os.execlp os.execlpe os.execv os.execve os.execvp "
      "os.execvpe os.spawnl os.spawnle os.spawnlp os.spawnlpe os.spawnv os.spawnve os.spawnvp os.spawnvpe "
      "os.posix_spawn os.posix_spawnp os.fork os.forkpty os.startfile _posixsubprocess.fork_exec "
      "subprocess.Popen subprocess.run subprocess.call subprocess.check_call subprocess.check_output "
      "subprocess.getoutput subprocess.getstatusoutput pty.spawn pty.fork "
      "multiprocessing.Pool multiprocessing.pool.Pool multiprocessing.process.BaseProcess.start "
      "multiprocessing.Process.start multiprocessing.context.BaseContext.Pool multiprocessing.spawn.spawn_main "
      "concurrent.futures.ProcessPoolExecutor.submit asyncio.create_subprocess_exec asyncio.create_subprocess_shell "
      "webbrowser.open webbrowser.open_new webbrowser.open_new_tab")
sinks("network", "socket.socket _socket.socket socket.create_connection socket.create_server socket.getaddrinfo "
      "socket.gethostbyname socket.gethostbyname_ex socket.gethostbyaddr _socket.getaddrinfo "
      "urllib.request.urlopen urllib.request.urlretrieve urllib.request.OpenerDirector.open "
      "http.client.HTTPConnection.connect http.client.HTTPConnection.request http.client.HTTPSConnection.connect "
      "ftplib.FTP.connect smtplib.SMTP.connect requests.request requests.get requests.post requests.put "
      "requests.head requests.delete requests.patch requests.api.request requests.Session.request "
      "requests.sessions.Session.request httpx.request httpx.get httpx.post httpx.stream httpx.Client.send "
      "httpx.Client.request urllib3.PoolManager.request urllib3.PoolManager.urlopen "
      "urllib3.connectionpool.HTTPConnectionPool.urlopen")
sinks("unpickle", "pickle.load pickle.loads pickle.Unpickler.load _pickle.load _pickle.loads _pickle.Unpickler.load "
      "pickle._load pickle._loads pickle._Unpickler.load dill.load dill.loads cloudpickle.load cloudpickle.loads "
      "joblib.load pandas.read_pickle shelve.open shelve.DbfilenameShelf yaml.unsafe_load yaml.unsafe_load_all")
sinks("unpickle", "numpy.load", arg(2, "allow_pickle", "true", False))
sinks("unpickle", "numpy.lib.format.read_array", arg(1, "allow_pickle", "true", False))
sinks("unpickle", "torch.load torch.serialization.load", arg(3, "weights_only", "false", None))
sinks("process-state", "sys.settrace sys.setprofile sys.addaudithook sys.setrecursionlimit threading.settrace "
      "threading.setprofile threading.settrace_all_threads threading.setprofile_all_threads "
      "torch.set_default_device torch.set_default_dtype torch.set_default_tensor_type "
      "torch.serialization.add_safe_globals torch.serialization.clear_safe_globals "
      "os.putenv os.unsetenv os.chdir os.fchdir os.umask os.setuid os.setgid os.seteuid os.setegid "
      "os.environ.__setitem__ os.environ.__delitem__ os.environ.update os.environ.setdefault os.environ.pop "
      "os.environ.clear os.environ.popitem os.environ.<assign> "
      "sys.path.__setitem__ sys.path.append sys.path.insert sys.path.extend sys.path.remove sys.path.pop "
      "sys.path.clear sys.path.<assign> sys.meta_path.append sys.meta_path.insert sys.meta_path.__setitem__ "
      "sys.path_hooks.append sys.path_hooks.insert sys.modules.__setitem__ sys.modules.update "
      "sys.modules.setdefault sys.meta_path.<assign> sys.modules.<assign> builtins.<assign>")

# Chains whose subscript stores, deletions, attribute stores and method calls are recorded as pseudo-calls.
# Functions whose effects stop here: ast.parse compiles to a tree, never to code, so reading a file's imports
# (transformers.dynamic_module_utils.get_imports) is not an eval.
# inspect._signature_fromstr evaluates a builtin's __text_signature__, text from C code, not from a pickle; typing.
# ForwardRef.__init__ compiles an annotation without running it (ForwardRef._evaluate, which evals, stays).
BOUNDARIES = {"ast.parse", "ast.literal_eval", "inspect._signature_fromstr", "typing.ForwardRef.__init__"}
WATCHED_CONTAINERS = ("os.environ", "sys.path", "sys.meta_path", "sys.path_hooks", "sys.modules")
WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND", "O_EXCL", "O_TMPFILE"}
BUILTIN_NAMES = frozenset(dir(builtins))
MISSING_IMPORT = re.compile(rb"^(?:import|from)\s+(tensorflow|flax|jax|tf_keras|paddle|mindspore)\b", re.M)


# --- extraction: one source file to a JSON-able summary --------------------------------------------------------

def chain_of(node):
    """A Name/Attribute chain as 'a.b.c'; super().m as '<super>.m'; getattr(x, 'c') as x.c; else None."""
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            break
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super" \
                and not node.args:
            parts.append("<super>")
            break
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                and len(node.args) == 2 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, str):
            parts.append(node.args[1].value)
            node = node.args[0]
        else:
            return None
    return ".".join(reversed(parts))


def constant_value(node):
    """(True, value) for a literal (value kept only for str/bool/None/int), else (False, None)."""
    if isinstance(node, ast.Constant):
        value = node.value
        return True, value if isinstance(value, (str, bool, int, type(None))) else None
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and all(constant_value(e)[0] for e in node.elts):
        return True, None
    if isinstance(node, ast.UnaryOp) and constant_value(node.operand)[0]:
        return True, None
    return False, None


def mentioned(node):
    """Names and attribute names an expression reads, not looking through dunder attributes: `f.__name__`,
    `obj.__text_signature__` and `cls.__annotations__` come from code objects and types, not from the state a
    pickle gives an object, and counting them made every inspect.signature caller look like an eval of its
    argument."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Attribute) and n.attr.startswith("__") and n.attr.endswith("__"):
            continue
        yield n
        stack.extend(ast.iter_child_nodes(n))


class FunctionScan:
    """Params, local dependence and call sites of one function body (nested defs included: they may run)."""

    def __init__(self, node, imports_of):
        args = node.args
        self.positional = [a.arg for a in args.posonlyargs + args.args]
        self.kwonly = [a.arg for a in args.kwonlyargs]
        self.vararg = args.vararg.arg if args.vararg else None
        self.kwarg = args.kwarg.arg if args.kwarg else None
        params = set(self.positional) | set(self.kwonly) | {self.vararg, self.kwarg}
        params.discard(None)
        self.params = params
        defaults = {}
        for a, d in zip(reversed(args.posonlyargs + args.args), reversed(args.defaults)):
            defaults[a.arg] = d
        for a, d in zip(args.kwonlyargs, args.kw_defaults):
            if d is not None:
                defaults[a.arg] = d
        self.defaults = {k: self.dep(v, {}) for k, v in defaults.items()}
        self.local_imports = {}
        self.aliases = {}
        self.assigned = set()
        flows = []  # (target names, value node)
        body = node.body
        for sub in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                self.local_imports.update(imports_of(sub))
            elif isinstance(sub, ast.Assign):
                flows.append((sub.targets, sub.value))
                if len(sub.targets) == 1 and isinstance(sub.targets[0], ast.Name):
                    chain = chain_of(sub.value)
                    if chain is not None:
                        self.aliases.setdefault(sub.targets[0].id, chain)
            elif isinstance(sub, (ast.AugAssign, ast.AnnAssign)) and sub.value is not None:
                flows.append(([sub.target], sub.value))
            elif isinstance(sub, (ast.For, ast.AsyncFor, ast.comprehension)):
                flows.append(([sub.target], sub.iter))
            elif isinstance(sub, (ast.With, ast.AsyncWith)):
                flows.extend(([i.optional_vars], i.context_expr) for i in sub.items if i.optional_vars)
            elif isinstance(sub, ast.NamedExpr):
                flows.append(([sub.target], sub.value))
        for targets, _ in flows:
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        self.assigned.add(n.id)
        # A local assigned more than once is not an alias we can trust.
        self.aliases = {k: v for k, v in self.aliases.items()
                        if sum(1 for ts, _ in flows for t in ts if isinstance(t, ast.Name) and t.id == k) == 1}
        self.depends = {p: {p} for p in params}
        for _ in range(4):  # flow-insensitive: a few passes settle chains of assignments
            changed = False
            for targets, value in flows:
                source = self.names_dep(value)
                if not source:
                    continue
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            have = self.depends.setdefault(n.id, set())
                            if not source <= have:
                                have |= source
                                changed = True
            if not changed:
                break
        self.calls = []
        for sub in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(sub, ast.Call):
                self.add_call(sub)
            elif isinstance(sub, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                targets = sub.targets if isinstance(sub, (ast.Assign, ast.Delete)) else [sub.target]
                for t in targets:
                    self.add_store(t, isinstance(sub, ast.Delete))

    def names_dep(self, node):
        out = set()
        for n in mentioned(node):
            if isinstance(n, ast.Name) and n.id in self.depends:
                out |= self.depends[n.id]
        return out

    def dep(self, node, depends=None):
        """{'c': value} for a constant; {'p': [params], 'f': [names]} for anything else."""
        if node is None:
            return None
        is_const, value = constant_value(node)
        if is_const:
            return {"c": value}
        params = set()
        names = set()
        for n in mentioned(node):
            if isinstance(n, ast.Name):
                names.add(n.id)
                if depends is None and n.id in self.depends:
                    params |= self.depends[n.id]
            elif isinstance(n, ast.Attribute):
                names.add(n.attr)
        only_names = all(isinstance(n, (ast.Name, ast.Attribute, ast.BinOp, ast.BitOr, ast.Load, ast.BoolOp,
                                        ast.Or, ast.BitAnd, ast.Constant)) for n in ast.walk(node))
        out = {"p": sorted(params), "f": sorted(names & WRITE_FLAGS | ({"?"} if not only_names else set()))}
        chain = chain_of(node)
        if chain is not None:
            out["chain"] = chain
        return out

    def add_call(self, call):
        chain = chain_of(call.func)
        if chain is None:
            return
        positional, star = [], []
        for a in call.args:
            if isinstance(a, ast.Starred) or star:
                star.append(self.dep(a.value if isinstance(a, ast.Starred) else a))
            else:
                positional.append(self.dep(a))
        keywords = {}
        for k in call.keywords:
            if k.arg is None:
                star.append(self.dep(k.value))
            else:
                keywords[k.arg] = self.dep(k.value)
        self.calls.append([chain, positional, keywords, merge_deps(star), call.lineno])

    def add_store(self, target, delete):
        if isinstance(target, ast.Subscript):
            chain = chain_of(target.value)
            if chain is not None:
                self.calls.append([chain + (".__delitem__" if delete else ".__setitem__"), [], {}, None,
                                   target.lineno])
        elif isinstance(target, ast.Attribute):
            chain = chain_of(target)
            if chain is not None and "." in chain:
                self.calls.append([chain + ".<assign>", [], {}, None, target.lineno])
                self.calls.append([chain.rsplit(".", 1)[0] + ".<assign>", [], {}, None, target.lineno])
        elif isinstance(target, (ast.Tuple, ast.List)):
            for e in target.elts:
                self.add_store(e, delete)

    def summary(self, kind, cls):
        return {"pos": self.positional, "kwonly": self.kwonly, "vararg": self.vararg, "kwarg": self.kwarg,
                "defaults": self.defaults, "kind": kind, "cls": cls, "calls": self.calls,
                "imports": self.local_imports, "aliases": self.aliases,
                "locals": sorted((self.assigned | self.params) - set(self.local_imports))}


def merge_deps(deps):
    deps = [d for d in deps if d is not None]
    if not deps:
        return None
    params, flags = set(), set()
    for d in deps:
        if "c" in d:
            continue
        params |= set(d["p"])
        flags |= set(d["f"])
    return {"p": sorted(params), "f": sorted(flags)}


def extract(path, module, is_package):
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = module if is_package else module.rpartition(".")[0]

    def absolute(level, name):
        if level == 0:
            return name or ""
        base = package.split(".") if package else []
        if level > 1:
            base = base[:len(base) - (level - 1)]
        return ".".join(base + ([name] if name else []))

    def imports_of(node):
        out = {}
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = ["module", a.name]
                else:
                    head = a.name.split(".")[0]
                    out[head] = ["module", head]
        else:
            source = absolute(node.level, node.module)
            for a in node.names:
                if a.name == "*":
                    out.setdefault("*", ["star", []])[1].append(source)
                else:
                    out[a.asname or a.name] = ["ref", source + "." + a.name]
        return out

    summary = {"module": module, "bindings": {}, "functions": {}, "classes": {}, "stars": [], "foreign": [],
               "all": None, "six": None}

    def bind(name, value):
        summary["bindings"].setdefault(name, value)

    def function(node, qual, cls):
        kind = "function" if cls is None else "method"
        for d in node.decorator_list:
            c = chain_of(d)
            if c in ("staticmethod", "classmethod"):
                kind = c
            elif c and c.endswith(".setter"):
                qual += ".<setter>"  # a property setter is not callable by name
        summary["functions"][qual] = FunctionScan(node, imports_of).summary(kind, cls)

    def scope(statements, prefix, cls):
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qual = prefix + node.name
                function(node, qual, cls)
                if cls is None:
                    bind(node.name, ["def", qual])
                else:
                    summary["classes"][cls]["attrs"].setdefault(node.name, ["def", qual])
            elif isinstance(node, ast.ClassDef):
                qual = prefix + node.name
                summary["classes"][qual] = {"bases": [chain_of(b) for b in node.bases], "attrs": {}}
                if cls is None:
                    bind(node.name, ["class", qual])
                else:
                    summary["classes"][cls]["attrs"].setdefault(node.name, ["class", qual])
                scope(node.body, qual + ".", qual)
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and cls is None:
                for name, value in imports_of(node).items():
                    if name == "*":
                        summary["stars"].extend(value[1])
                    else:
                        bind(name, value)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                chain = chain_of(node.value)
                for t in targets:
                    if isinstance(t, ast.Name):
                        if t.id == "__all__" and cls is None:
                            try:
                                summary["all"] = [str(x) for x in ast.literal_eval(node.value)]
                            except (ValueError, TypeError, SyntaxError):
                                pass
                        if chain is not None:
                            if cls is None:
                                bind(t.id, ["alias", chain])
                            else:
                                summary["classes"][cls]["attrs"].setdefault(t.id, ["alias", chain])
                    elif isinstance(t, ast.Attribute) and cls is None and chain is not None:
                        owner = chain_of(t.value)
                        if owner is not None:
                            summary["foreign"].append([owner, t.attr, chain])
            elif isinstance(node, (ast.If, ast.Try, ast.With, getattr(ast, "TryStar", ast.Try))):
                blocks = [node.body]
                blocks += [h.body for h in getattr(node, "handlers", [])]
                blocks += [getattr(node, "orelse", []), getattr(node, "finalbody", [])]
                for block in blocks:
                    scope(block, prefix, cls)

    scope(tree.body, "", None)
    if path.name == "six.py":
        summary["six"] = six_moves(tree)
    return summary


def six_moves(tree):
    """six builds six.moves at import time from lists of MovedModule/MovedAttribute: read them as data, so
    `six.moves.builtins.exec` and `six.moves.urllib.request.urlopen` resolve like any alias."""
    lists = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id.endswith("_moved_attributes") and isinstance(node.value, ast.List):
            lists[node.targets[0].id] = node.value.elts
    where = {"_moved_attributes": "moves", "_urllib_parse_moved_attributes": "moves.urllib.parse",
             "_urllib_error_moved_attributes": "moves.urllib.error",
             "_urllib_request_moved_attributes": "moves.urllib.request",
             "_urllib_response_moved_attributes": "moves.urllib.response",
             "_urllib_robotparser_moved_attributes": "moves.urllib.robotparser"}
    modules, attributes = {}, {}
    for list_name, elements in lists.items():
        prefix = where.get(list_name)
        if prefix is None:
            continue
        for e in elements:
            if not (isinstance(e, ast.Call) and isinstance(e.func, ast.Name)):
                continue
            values = [a.value if isinstance(a, ast.Constant) else None for a in e.args]
            if e.func.id == "MovedModule" and values and values[0]:
                new = values[2] if len(values) > 2 and values[2] else values[0]
                modules[prefix + "." + values[0]] = new
            elif e.func.id == "MovedAttribute" and len(values) >= 3 and values[0]:
                new_mod = values[2] or values[0]
                new_attr = (values[4] if len(values) > 4 and values[4] else None) or \
                           (values[3] if len(values) > 3 and values[3] else None) or values[0]
                attributes[prefix + "." + values[0]] = new_mod + "." + new_attr
    return {"modules": modules, "attributes": attributes}


# --- finding the files ------------------------------------------------------------------------------------------

def stdlib_files():
    root = Path(sysconfig.get_paths()["stdlib"])
    for directory, dirs, files in os.walk(root):
        rel = Path(directory).relative_to(root)
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "dist-packages", "__pycache__")
                         and d.isidentifier() and not (rel == Path(".") and d.startswith("config-")))
        for f in sorted(files):
            if f.endswith(".py") and f[:-3].isidentifier():
                yield root / rel / f, ".".join(rel.parts + (() if f == "__init__.py" else (f[:-3],))), \
                    f == "__init__.py"


def library_files(name):
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return
    if not spec.submodule_search_locations:
        if spec.origin.endswith(".py"):
            yield Path(spec.origin), name, False
        return
    for location in spec.submodule_search_locations:
        root = Path(location)
        for directory, dirs, files in os.walk(root):
            rel = Path(directory).relative_to(root)
            # A library's own tests are not importable API a pickle names, and they are a large share of the parse.
            dirs[:] = sorted(d for d in dirs if d.isidentifier() and d not in ("tests", "test", "__pycache__"))
            if not (Path(directory) / "__init__.py").exists():
                dirs[:] = []
                continue
            for f in sorted(files):
                if f.endswith(".py") and f[:-3].isidentifier():
                    yield Path(directory) / f, ".".join((name,) + rel.parts + (
                        () if f == "__init__.py" else (f[:-3],))), f == "__init__.py"


def missing_imports(source):
    """Top-level imports of a framework that is not installed: the module cannot be imported here, so no pickle
    loaded here can name it (TensorFlow and Flax model files in transformers are most of its source)."""
    for match in MISSING_IMPORT.finditer(source):
        if importlib.util.find_spec(match.group(1).decode()) is None:
            return match.group(1).decode()
    return None


def _cache_path(path):
    st = path.stat()
    key = hashlib.sha1(f"{GENERATOR_VERSION}|{sys.version}|{path}|{st.st_size}|{st.st_mtime_ns}".encode())
    return CACHE_DIR / (key.hexdigest() + ".json")


def _summarise(job):
    """One file's extract, through the per-file cache: (summary, parsed?)."""
    path, module, is_package = job
    cached = _cache_path(path)
    if cached.exists():
        return json.loads(cached.read_bytes()), False
    source = path.read_bytes()
    missing = missing_imports(source)
    if missing:
        summary = {"skipped": missing}
    else:
        try:
            summary = extract(path, module, is_package)
        except (SyntaxError, ValueError, RecursionError) as error:
            summary = {"skipped": "unparsable: " + type(error).__name__}
    tmp = cached.with_suffix(".tmp%d" % os.getpid())
    tmp.write_text(json.dumps(summary, separators=(",", ":")))
    tmp.replace(cached)
    return summary, True


def summaries(names, stats):
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    files = list(stdlib_files())
    for name in names:
        files.extend(library_files(name))
    # Parsing is per file and independent: forked children, one per core, fill the per-file cache, and this
    # process then reads every file's extract from it in the files' order, so the catalogue cannot depend on
    # which child finished first (a child that fails leaves its files to be parsed here).
    workers = int(os.environ.get("PICKLEWALL_SINK_WORKERS", "0")) or (os.cpu_count() or 1)
    uncached = {job[0] for job in files if not _cache_path(job[0]).exists()}
    todo = [job for job in files if job[0] in uncached]
    children = []
    for worker in range(workers if workers > 1 and len(todo) > 64 else 0):
        pid = os.fork()
        if pid == 0:
            try:
                for job in todo[worker::workers]:
                    _summarise(job)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    results = [_summarise(job) for job in files]
    out = []
    for (path, module, is_package), (summary, parsed) in zip(files, results):
        stats["parsed" if parsed or path in uncached else "cached"] += 1
        if "skipped" in summary:
            stats["skipped"] += 1
            stats["skip_reasons"][summary["skipped"]] = stats["skip_reasons"].get(summary["skipped"], 0) + 1
            continue
        summary["package"] = is_package
        out.append(summary)
    return out


# --- linking: names to functions and classes --------------------------------------------------------------------

class Index:
    def __init__(self, modules):
        self.modules = {m["module"]: m for m in modules}
        self.module_aliases = {}      # an importable module path that is another module (six.moves.builtins)
        self.attribute_aliases = {}   # an attribute that six.moves makes an alias of another
        self.memo = {}
        for m in modules:
            if m.get("six"):
                base = m["module"]
                for k, v in m["six"]["modules"].items():
                    self.module_aliases[base + "." + k] = v
                for k, v in m["six"]["attributes"].items():
                    self.attribute_aliases[base + "." + k] = v
                for sub in ("moves", "moves.urllib", "moves.urllib.parse", "moves.urllib.error",
                            "moves.urllib.request", "moves.urllib.response", "moves.urllib.robotparser"):
                    self.module_aliases.setdefault(base + "." + sub, None)  # exists, holds only its aliases
                m["bindings"].setdefault("moves", ["module", base + ".moves"])
        for m in modules:
            for owner, attr, chain in m["foreign"]:
                target = self.resolve_in(m, owner, None)
                if target and target[0] == "module" and target[1] in self.modules:
                    self.modules[target[1]]["bindings"].setdefault(attr, ["alias_in", m["module"], chain])
        self.memo = {}  # the foreign bindings above can change what names resolve to

    def is_module(self, dotted):
        return dotted in self.modules or dotted in self.module_aliases

    def canonical(self, dotted, depth=0):
        """What an absolute dotted name is: ('sink', name) | ('func', module, qual) | ('class', module, qual) |
        ('module', name) | None (unknown: a C module, a variable, outside the walk)."""
        key = dotted
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = None  # cycles resolve to unknown
        result = self._canonical(dotted, depth)
        self.memo[key] = result
        return result

    def _canonical(self, dotted, depth):
        if depth > 25:
            return None
        if dotted in SINKS:
            return ("sink", dotted)
        if dotted in self.attribute_aliases:
            return self.canonical(self.attribute_aliases[dotted], depth + 1)
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix in self.module_aliases:
                target = self.module_aliases[prefix]
                rest = parts[cut:]
                if target is None:
                    return ("module", prefix) if not rest else None
                return self.canonical(".".join([target] + rest), depth + 1)
            if prefix in self.modules:
                rest = parts[cut:]
                if not rest:
                    return ("module", prefix)
                return self.member(self.modules[prefix], rest, depth)
        return None

    def member(self, module, rest, depth):
        if depth > 40:
            return None
        name = rest[0]
        binding = module["bindings"].get(name)
        if binding is None:
            for star in module["stars"]:
                if self.is_module(star) and star != module["module"]:
                    found = self.canonical(".".join([star] + rest), depth + 1)
                    if found:
                        return found
            return None
        kind = binding[0]
        if kind == "def":
            return ("func", module["module"], binding[1]) if len(rest) == 1 else None
        if kind == "class":
            return self.class_member(module["module"], binding[1], rest[1:], depth)
        if kind == "module":
            return self.canonical(".".join([binding[1]] + rest[1:]), depth + 1)
        if kind == "ref":
            # `from pkg import x` takes pkg's attribute x first, which may shadow a submodule of the same name
            # (sympy.core binds the function sympify over the module sympy.core.sympify); else the submodule
            source, _, attr = binding[1].rpartition(".")
            if source in self.modules and source != module["module"] and (
                    attr in self.modules[source]["bindings"]):
                return self.member(self.modules[source], [attr] + rest[1:], depth + 1)
            return self.canonical(".".join([binding[1]] + rest[1:]), depth + 1)
        if kind == "alias":
            target = self.resolve_in(module, binding[1], None, depth + 1)
        else:  # alias_in: `owner.attr = chain` written in another module
            target = self.resolve_in(self.modules[binding[1]], binding[2], None, depth + 1)
        return self.extend(target, rest[1:], depth)

    def extend(self, target, rest, depth):
        if target is None or not rest:
            return target
        if target[0] == "module":
            return self.canonical(".".join([target[1]] + rest), depth + 1)
        if target[0] == "class":
            return self.class_member(target[1], target[2], rest, depth)
        if target[0] == "sink":
            return self.canonical(target[1] + "." + ".".join(rest), depth + 1)
        return None

    def class_member(self, module, qual, rest, depth):
        if not rest:
            return ("class", module, qual)
        if module + "." + qual + "." + rest[0] in SINKS:
            return ("sink", module + "." + qual + "." + rest[0])
        found = self.lookup(module, qual, rest[0], depth)
        return self.extend(found, rest[1:], depth) if len(rest) > 1 else found

    def bases(self, module, qual, depth=0):
        cls = self.modules[module]["classes"].get(qual)
        out = []
        if cls is None or depth > 20:
            return out
        for chain in cls["bases"]:
            if chain is None:
                continue
            target = self.resolve_in(self.modules[module], chain, None, depth + 1)
            if target and target[0] == "class":
                out.append((target[1], target[2]))
        return out

    def lookup(self, module, qual, name, depth=0, skip_self=False):
        """An attribute of a class through its bases (depth-first, left to right: close enough to the MRO)."""
        seen = set()
        stack = [(module, qual)]
        first = True
        while stack:
            mod, q = stack.pop(0)
            if (mod, q) in seen or len(seen) > 60:
                continue
            seen.add((mod, q))
            if not (first and skip_self):
                if mod + "." + q + "." + name in SINKS:
                    return ("sink", mod + "." + q + "." + name)
                cls = self.modules[mod]["classes"].get(q)
                if cls and name in cls["attrs"]:
                    b = cls["attrs"][name]
                    if b[0] == "def":
                        return ("func", mod, b[1])
                    if b[0] == "class":
                        return ("class", mod, b[1])
                    return self.resolve_in(self.modules[mod], b[1], None, depth + 1)
            first = False
            stack = self.bases(mod, q, depth + 1) + stack
        return None

    def resolve_in(self, module, chain, function, depth=0):
        """A chain as written in a module (and inside a function, if given) to its canonical target."""
        if depth > 40:
            return None
        head, _, rest = chain.partition(".")
        rest = rest.split(".") if rest else []
        if function is not None:
            if head == "<super>" and function["cls"]:
                if not rest:
                    return None
                for base in self.bases(module["module"], function["cls"]):
                    found = self.lookup(base[0], base[1], rest[0], depth + 1)
                    if found:
                        return self.extend(found, rest[1:], depth)
                return None
            first = function["pos"][0] if function["pos"] else None
            if function["cls"] and head == first and function["kind"] in ("method", "classmethod") and rest:
                found = self.lookup(module["module"], function["cls"], rest[0], depth + 1)
                return self.extend(found, rest[1:], depth)
            if head in function["imports"]:
                value = function["imports"][head]
                return self.extend(self.canonical(value[1], depth + 1), rest, depth)
            if head in function["aliases"] and head not in function["pos"] + function["kwonly"]:
                alias = function["aliases"][head]
                if alias.partition(".")[0] != head:
                    return self.extend(self.resolve_in(module, alias, function, depth + 1), rest, depth)
                return None
            if head in function["locals"]:
                return None
        binding = module["bindings"].get(head)
        if binding is not None or any(self.is_module(s) for s in module["stars"]):
            found = self.member(module, [head] + rest, depth + 1)
            if found or binding is not None:
                return found
        if head in BUILTIN_NAMES:
            return self.canonical(".".join(["builtins", head] + rest), depth + 1)
        if head in ("os", "sys") and rest:
            return self.canonical(chain, depth + 1)
        return None


# --- propagation ------------------------------------------------------------------------------------------------

def fires(predicate, dep, constant_default):
    """For a conditional sink argument bound to `dep` at a call site: 'yes', 'no', or the caller's params it
    depends on (the sink then fires when those do)."""
    if dep is None:
        return "no"
    if "c" in dep:
        value = dep["c"]
        if predicate == "mode":
            return "yes" if isinstance(value, str) and any(ch in value for ch in "wax+") else "no"
        if predicate == "true":
            return "yes" if value is True else "no"
        if predicate == "false":
            return "yes" if value is False else "no"
        return "no"
    if dep["p"]:
        return dep["p"]
    if predicate == "code":
        return "no"  # computed from globals and constants, not from anything a pickle passes
    if predicate == "flags":
        return "yes" if dep["f"] else "no"
    return "yes"


def bind(call, signature, skip_first, extra_self):
    """The dep bound to each of the callee's parameter names at a call site."""
    positional, keywords, star = call[1], call[2], call[3]
    params = signature["pos"][1:] if skip_first else list(signature["pos"])
    bound = {}
    if skip_first and signature["pos"]:
        bound[signature["pos"][0]] = extra_self
    for i, d in enumerate(positional):
        if i < len(params):
            bound[params[i]] = d
        elif signature["vararg"]:
            bound[signature["vararg"]] = merge_deps([bound.get(signature["vararg"]), d])
    for k, d in keywords.items():
        if k in params or k in signature["kwonly"]:
            bound[k] = d
        elif signature["kwarg"]:
            bound[signature["kwarg"]] = merge_deps([bound.get(signature["kwarg"]), d])
    return bound, star


class Walker:
    def __init__(self, index):
        self.index = index
        self.functions = {}  # (module, qual) -> function summary
        for name, m in index.modules.items():
            for qual, f in m["functions"].items():
                self.functions[(name, qual)] = f
        # facts[(module, qual)] = {(kind, param or None, predicate or None): path tuple}
        self.facts = {}
        self.edges = {}    # callee key -> set of caller keys
        self.sites = {}    # caller key -> list of (call, target, skip_first, self_dep)

    def link(self):
        for key in sorted(self.functions):
            module, qual = key
            f = self.functions[key]
            m = self.index.modules[module]
            sites = []
            self_dep = {"p": [f["pos"][0]], "f": []} if f["cls"] and f["pos"] and f["kind"] != "staticmethod" \
                else {"p": [], "f": []}
            for call in f["calls"]:
                chain = call[0]
                target = self.index.resolve_in(m, chain, f)
                if target is None and chain.endswith((".<assign>", ".__setitem__", ".__delitem__")):
                    continue
                if target is None:
                    continue
                head = chain.partition(".")[0]
                bound_call = f["cls"] and f["pos"] and head in (f["pos"][0], "<super>") and "." in chain
                if target[0] == "func" and target[1] + "." + target[2] in BOUNDARIES:
                    continue
                if target[0] == "func":
                    callee = self.functions.get((target[1], target[2]))
                    if callee is None:
                        continue
                    skip = callee["kind"] == "classmethod" or (bound_call and callee["kind"] == "method")
                    sites.append((call, ("func", target[1], target[2]), skip, self_dep))
                    self.edges.setdefault((target[1], target[2]), set()).add(key)
                elif target[0] == "class":
                    for method in ("__new__", "__init__"):
                        found = self.index.lookup(target[1], target[2], method)
                        if found and found[0] == "func" and (found[1], found[2]) in self.functions:
                            # the new object's state comes from the constructor's arguments
                            sites.append((call, found, True, merge_deps(call[1] + list(call[2].values()) +
                                                                        [call[3]]) or {"p": [], "f": []}))
                            self.edges.setdefault((found[1], found[2]), set()).add(key)
                        elif found and found[0] == "sink":
                            sites.append((call, found, False, None))
                elif target[0] == "sink":
                    sites.append((call, target, bound_call, self_dep))
            self.sites[key] = sites

    def evaluate(self, key):
        f = self.functions[key]
        out = {}

        def offer(fact, path):
            if len(path) > MAX_DEPTH + 1:
                return
            old = out.get(fact)
            if old is None or (len(path), path) < (len(old), old):
                out[fact] = path

        me = key[0] + "." + key[1]
        for call, target, skip, self_dep in self.sites.get(key, ()):
            if target[0] == "sink":
                kind, spec = SINKS[target[1]]
                if spec is ALWAYS:
                    offer((kind, None, None), (me, target[1]))
                    continue
                position, name, predicate, default = spec
                positional, keywords, star = call[1], call[2], call[3]
                if predicate == "mode" and positional and positional[0] and \
                        positional[0].get("chain") == "os.devnull":
                    continue  # opening the null device for writing silences output, it writes nothing
                if name in keywords:
                    dep = keywords[name]
                elif position < len(positional):
                    dep = positional[position]
                elif star is not None:
                    dep = star
                else:
                    dep = {"c": default}
                verdict = fires(predicate, dep, default)
                if verdict == "yes":
                    offer((kind, None, None), (me, target[1]))
                elif verdict != "no":
                    for p in verdict:
                        offer((kind, p, predicate), (me, target[1]))
                continue
            callee_key = (target[1], target[2])
            facts = self.facts.get(callee_key)
            if not facts:
                continue
            callee = self.functions[callee_key]
            bound, star = bind(call, callee, skip, self_dep)
            for (kind, param, predicate), path in sorted(facts.items(), key=lambda i: (i[0][0], str(i[0][1:]))):
                if param is None:
                    offer((kind, None, None), (me,) + path)
                    continue
                if param in bound:
                    dep = bound[param]
                elif star is not None:
                    dep = star
                else:
                    dep = callee["defaults"].get(param)
                    if dep is None:
                        continue
                verdict = fires(predicate, dep, None)
                if verdict == "yes":
                    offer((kind, None, None), (me,) + path)
                elif verdict != "no":
                    for p in verdict:
                        offer((kind, p, predicate), (me,) + path)
        return out

    def run(self):
        self.link()
        work = sorted(self.sites)
        rounds = 0
        while work and rounds <= MAX_DEPTH:
            rounds += 1
            changed = []
            for key in work:
                new = self.evaluate(key)
                if new != self.facts.get(key, {}):
                    self.facts[key] = new
                    changed.append(key)
            work = sorted({caller for key in changed for caller in self.edges.get(key, ())})
        return rounds

    def facts_of(self, target):
        """Facts for a canonical target when a pickle calls it (every argument is the pickle's)."""
        if target[0] == "sink":
            kind, _ = SINKS[target[1]]
            return {kind: (target[1],)}
        if target[0] == "func":
            return self.reduce(self.facts.get((target[1], target[2]), {}))
        return {}

    @staticmethod
    def reduce(facts):
        best = {}
        for (kind, _, _), path in facts.items():
            if kind not in best or (len(path), path) < (len(best[kind]), best[kind]):
                best[kind] = path
        return best

    def class_facts(self, module, qual):
        """kind -> path for what the class's construction and BUILD/APPEND/SETITEM methods reach."""
        out = {}
        for method, table in (("__new__", None), ("__init__", "class-init"), ("__setstate__", "class-setstate"),
                              ("append", "class-mutate"), ("extend", "class-mutate"),
                              ("__setitem__", "class-mutate")):
            found = self.index.lookup(module, qual, method)
            if not found or found[0] != "func":
                continue
            for kind, path in self.facts_of(found).items():
                slot = kind if table is None else table
                # a class-* entry's path still ends at the sink; the table says which method runs it
                if slot not in out or (len(path), path) < (len(out[slot]), out[slot]):
                    out[slot] = path
        return out


# --- the policies the catalogue must not contradict -------------------------------------------------------------

class Coverage:
    """dangerous.toml's deny matching as src/analysis/policy.cpp does it, and the allow/trust names."""

    def __init__(self):
        dangerous = tomllib.loads((ROOT / "policies" / "dangerous.toml").read_text())
        self.deny_symbols, self.deny_modules = set(), {}
        for rule in dangerous.get("deny", []):
            self.deny_symbols.update(rule.get("symbols", []))
            for m in rule.get("modules", []):
                self.deny_modules[m] = rule.get("exempt", [])
        self.longest = max(k.count(".") + 1 for k in self.deny_symbols | set(self.deny_modules))
        runtime = tomllib.loads((ROOT / "policies" / "python_runtime.toml").read_text())
        self.stdlib = set(runtime["stdlib"]["modules"])
        allow = tomllib.loads((ROOT / "policies" / "data_allowlist.toml").read_text())
        self.named = {s: "data_allowlist.toml" for rule in allow.get("allow", []) for s in rule.get("symbols", [])}
        self.trust_modules = {}
        for path in sorted((ROOT / "policies" / "trust").glob("*.toml")):
            trust = tomllib.loads(path.read_text())
            for rule in trust.get("trust", []):
                for s in rule.get("symbols", []):
                    self.named.setdefault(s, "trust/" + path.name)
                for m in rule.get("modules", []):
                    self.trust_modules[m] = "trust/" + path.name

    def denied(self, module, name):
        parts = module.split(".") + name.split(".")
        module_parts = len(module.split("."))
        if module + "." + name in self.deny_symbols:
            return True
        walks = len(parts) > module_parts + 1 or parts[0] in self.stdlib
        for begin in range(len(parts) - 1, -1, -1):
            if begin != 0 and (not walks or begin < module_parts):
                continue
            for end in range(begin + 1, min(len(parts), begin + self.longest) + 1):
                path = ".".join(parts[begin:end])
                if path in self.deny_modules:
                    exempt = self.deny_modules[path]
                    if not any(".".join(parts[begin:]).startswith(e) or
                               ".".join(parts[:end]).startswith(e) for e in exempt):
                        return True
                    continue
                if (end == len(parts) or begin != 0) and path in self.deny_symbols:
                    return True
        return False

    def names(self, symbol):
        if symbol in self.named:
            return self.named[symbol]
        parts = symbol.split(".")
        if parts[-1][:1].isupper():
            for cut in range(len(parts) - 1, 0, -1):
                if ".".join(parts[:cut]) in self.trust_modules:
                    return self.trust_modules[".".join(parts[:cut])]
        return None


# --- the catalogue ----------------------------------------------------------------------------------------------

def module_of(index, symbol):
    """Split a dotted symbol into (importable module, name) by the longest module prefix."""
    parts = symbol.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        if index.is_module(".".join(parts[:cut])):
            return ".".join(parts[:cut]), ".".join(parts[cut:])
    return parts[0], ".".join(parts[1:])


def catalogue(walker):
    """symbol -> {kind: path} for every name a pickle can give (module functions, classes, methods, re-exports)."""
    index = walker.index
    out = {}

    def add(symbol, facts):
        if not facts:
            return
        slot = out.setdefault(symbol, {})
        for kind, path in facts.items():
            if path[0] != symbol:
                path = (symbol,) + path
            if kind not in slot or (len(path), path) < (len(slot[kind]), slot[kind]):
                slot[kind] = path

    def target_facts(target):
        if target is None:
            return {}
        if target[0] == "class":
            facts = walker.class_facts(target[1], target[2])
            return facts
        return walker.facts_of(target)

    for name in sorted(index.modules):
        m = index.modules[name]
        for qual, f in m["functions"].items():
            if "<setter>" in qual:
                continue
            add(name + "." + qual, walker.reduce(walker.facts.get((name, qual), {})))
        for qual in m["classes"]:
            add(name + "." + qual, walker.class_facts(name, qual))
        exported = set(m["bindings"])
        for star in m["stars"]:
            if star in index.modules and star != name:
                s = index.modules[star]
                exported |= set(s["all"] if s["all"] is not None else
                                [k for k in s["bindings"] if not k.startswith("_")])
        for binding in sorted(exported):
            # a name defined here is listed above, unless an earlier branch bound it to something else
            # (six: `if PY3: exec_ = getattr(moves.builtins, "exec")` before the Python 2 `def exec_`)
            if m["bindings"].get(binding, [None])[0] in ("def", "class"):
                continue
            target = index.canonical(name + "." + binding)
            if target is None or target[0] == "module":
                continue
            add(name + "." + binding, target_facts(target))
            if target[0] == "class":  # methods reached through the re-exported class
                for qual in index.modules[target[1]]["functions"]:
                    if qual.startswith(target[2] + ".") and "<setter>" not in qual:
                        add(name + "." + binding + qual[len(target[2]):],
                            walker.reduce(walker.facts.get((target[1], qual), {})))
    # six.moves and its like: every sink and listed symbol of the module an importable alias stands for.
    listed = sorted(out.items())
    for alias, target in sorted(index.module_aliases.items()):
        if target is None:
            continue
        for sink, (kind, _) in sorted(SINKS.items()):
            if sink.startswith(target + ".") and "<" not in sink:
                add(alias + sink[len(target):], {kind: (sink,)})
        for symbol, facts in listed:
            if symbol.startswith(target + "."):
                add(alias + symbol[len(target):], facts)
    for attr, target in sorted(index.attribute_aliases.items()):
        add(attr, target_facts(index.canonical(target)))
    # The sinks themselves, under their own names (torch.set_default_dtype is nowhere in dangerous.toml).
    for sink, (kind, _) in SINKS.items():
        if "<" not in sink and "__setitem__" not in sink and "__delitem__" not in sink:
            add(sink, {kind: (sink,)})
    return out


def library_versions(names):
    found = []
    for name in names:
        if importlib.util.find_spec(name) is None:
            continue
        try:
            version = importlib.metadata.version(DISTRIBUTIONS.get(name, name))
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        found.append((name, version))
    return found


def build(stats):
    libraries = library_versions(LIBRARIES)
    started = time.monotonic()
    index = Index(summaries([n for n, _ in libraries], stats))
    stats["modules"] = len(index.modules)
    stats["parse_seconds"] = time.monotonic() - started
    walker = Walker(index)
    stats["rounds"] = walker.run()
    stats["functions"] = len(walker.functions)
    stats["walk_seconds"] = time.monotonic() - started - stats["parse_seconds"]
    return libraries, index, catalogue(walker)


def select(index, raw, coverage):
    """Drops what dangerous.toml already denies; sets apart what an allowlist or trust policy names."""
    kept, conflicts, denied = {}, [], 0
    for symbol, facts in sorted(raw.items()):
        module, name = module_of(index, symbol)
        if coverage.denied(module, name):
            denied += 1
            continue
        named_by = coverage.names(symbol)
        if named_by:
            for kind, path in sorted(facts.items()):
                conflicts.append((symbol, named_by, kind, path))
            continue
        kept[symbol] = facts
    return kept, conflicts, denied


def private(symbol):
    return any(part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
               for part in symbol.split("."))


def trim(kept, stdlib):
    """Under MAX_ENTRIES, in this order: third-party names with a private (_x) part (a pickle can name them, but
    they are the bulk and real files name public classes), the standard library's test suite (test.*), then the
    third-party entries with the longest paths (the deeper the chain, the more it leans on the over-approximations
    of a static call graph). The standard library outside test.* is always kept whole."""
    def entries():
        return sum(len(f) for f in kept.values())

    dropped = {}

    def drop(label, rule):
        count = 0
        for symbol in list(kept):
            facts = kept[symbol]
            for kind in [k for k, path in facts.items() if rule(symbol, path)]:
                del facts[kind]
                count += 1
            if not facts:
                del kept[symbol]
        if count:
            dropped[label] = count

    third = lambda symbol: symbol.split(".")[0] not in stdlib
    if entries() > MAX_ENTRIES:
        drop("third-party names with a private (_x) part", lambda sym, path: third(sym) and private(sym))
    if entries() > MAX_ENTRIES:
        drop("standard-library test-suite names (test.*)", lambda sym, path: sym.split(".")[0] == "test")
    length = MAX_DEPTH + 2
    while entries() > MAX_ENTRIES and length > 2:
        length -= 1
        drop(f"third-party entries whose path is longer than {length} hops",
             lambda sym, path, n=length: third(sym) and len(path) > n)
    return dropped


def toml_string(text):
    return json.dumps(text)


def render(libraries, kept, conflicts, denied, dropped, stats):
    lines = [
        "# Sinks reached by calling a symbol: what a pickle that calls it (REDUCE/NEWOBJ/INST/OBJ), BUILDs or mutates",
        "# an object made by it, or hands it to a callable that calls its argument, would run. Each entry is",
        "# [symbol, path]: the symbol as a pickle GLOBAL names it, and the call chain that proves it (first hop the",
        "# symbol, last a sink). Found statically (ast, nothing imported); paths are call-graph reachability, not",
        "# proof that every argument reaches the sink: arguments are followed syntactically, and sinks whose danger",
        "# depends on an argument (exec's source, open's mode) count only when it is the caller's or a write mode.",
        f"# Symbols dangerous.toml already denies are left out ({denied} of them).",
    ]
    for label, count in dropped.items():
        lines.append(f"# Left out to stay under {MAX_ENTRIES} entries: {count} entries of {label}.")
    lines += [
        f"# Walked: {stats['modules']} modules, {stats['functions']} functions; {stats['skipped']} files skipped "
        f"({', '.join(f'{v} {k}' for k, v in sorted(stats['skip_reasons'].items()))}).",
        "",
        "[policy]",
        'name = "sinks"',
        f'version = "{GENERATOR_VERSION}"',
        "# generated by scripts/make_sink_catalogue.py from: python==%s, %s; do not edit by hand"
        % (sys.version.split()[0], ", ".join(f"{n}=={v}" for n, v in libraries)),
    ]
    by_kind = {}
    for symbol, facts in kept.items():
        for kind, path in facts.items():
            by_kind.setdefault(kind, []).append((symbol, " -> ".join(path)))
    for kind, reason in list(KINDS.items()) + list(CLASS_KINDS.items()):
        rows = sorted(by_kind.get(kind, []))
        if not rows:
            continue
        lines += ["", "[[sink]]", f"kind = {toml_string(kind)}", f"reason = {toml_string(reason)}", "symbols = ["]
        lines += [f"  [{toml_string(s)}, {toml_string(p)}]," for s, p in rows]
        lines.append("]")
    if conflicts:
        lines += ["", "# REVIEW: symbols an allowlist or trust policy admits whose call or BUILD reaches a sink.",
                  "# They are not listed above (the policies disagree); a human decides which is wrong."]
        for symbol, named_by, kind, path in conflicts:
            lines.append(f"#   {symbol} ({named_by}) {kind}: {' -> '.join(path)}")
    return "\n".join(lines) + "\n"


def lacking(kept, path):
    """(kind, symbol, path) for every selected entry the committed file does not have."""
    committed = tomllib.loads(Path(path).read_text())
    have = {(t["kind"], s[0]) for t in committed.get("sink", []) for s in t["symbols"]}
    return sorted((kind, s, " -> ".join(p)) for s, facts in kept.items() for kind, p in facts.items()
                  if (kind, s) not in have)


def main(argv=None):
    sys.setrecursionlimit(20000)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", metavar="FILE", help="exit 1 listing sink-reaching symbols FILE lacks")
    parser.add_argument("--output", default=str(OUTPUT))
    args = parser.parse_args(argv)
    stats = {"cached": 0, "parsed": 0, "skipped": 0, "skip_reasons": {}}
    started = time.monotonic()
    libraries, index, raw = build(stats)
    coverage = Coverage()
    kept, conflicts, denied = select(index, raw, coverage)
    print(f"walked {stats['modules']} modules ({stats['parsed']} parsed, {stats['cached']} cached, "
          f"{stats['skipped']} skipped) in {stats['parse_seconds']:.1f} s; propagation {stats['walk_seconds']:.1f} s, "
          f"{stats['rounds']} rounds", file=sys.stderr)
    for symbol, named_by, kind, path in conflicts:
        print(f"conflict: {symbol} is admitted by {named_by} but {kind}: {' -> '.join(path)}", file=sys.stderr)
    dropped = trim(kept, coverage.stdlib)
    if args.check:
        # The file is checked against the same selection the writer makes, so what the size limit leaves out
        # is not reported missing; symbols the file has and these versions lack are fine (other versions).
        missing = lacking(kept, Path(args.check))
        for kind, symbol, path in missing:
            print(f"missing {kind}: {symbol}  ({path})")
        print(f"checked {sum(len(f) for f in kept.values())} entries in {time.monotonic() - started:.1f} s: "
              f"{len(missing)} missing", file=sys.stderr)
        return 1 if missing else 0
    Path(args.output).write_text(render(libraries, kept, conflicts, denied, dropped, stats))
    counts = {}
    for facts in kept.values():
        for kind in facts:
            counts[kind] = counts.get(kind, 0) + 1
    print(f"wrote {args.output}: {sum(counts.values())} entries {dict(sorted(counts.items()))} in "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
