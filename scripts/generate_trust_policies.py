"""Generates policies/trust/*.toml from the installed libraries: exact symbols, never module trees.

For each library it builds real objects with the real library (every scikit-learn estimator that can be built,
fitted on a tiny dataset; pandas and SciPy containers; torch.nn modules, optimizers and schedulers; tiny
transformers models; LightGBM boosters and wrappers), pickles them the way real writers do (pickle.dumps with
protocols 2, 4 and 5; torch.save), and collects every global the pickles name by walking their opcodes with
pickletools (the memo and STACK_GLOBAL included; nothing is unpickled). What a policy lists is then exactly
the classes those pickles name and the reconstruction functions those classes need; the data allowlist
(policies/data_allowlist.toml) and the standard library are left out: standard-library globals are reported,
never trusted. Every trusted function (as opposed to class) is reviewed: its own body must not reach a sink
(exec, eval, compile, imports by name, processes, files, sockets, pickle/marshal loads, ctypes).

    python3 scripts/generate_trust_policies.py --check    # exit 1 and print the diff when the files are stale
    python3 scripts/generate_trust_policies.py --write    # rewrite policies/trust/*.toml
    python3 scripts/generate_trust_policies.py --review   # also print the function review and stdlib globals

A library that is not installed is skipped (its file is neither checked nor written), and said so.
"""
import _compat_pickle
import argparse
import ast
import builtins
import difflib
import fnmatch
import importlib
import importlib.metadata
import inspect
import io
import os
import pickle
import pickletools
import sys
import textwrap
import time
import tomllib
import types
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRUST_DIR = ROOT / "policies" / "trust"
ALLOWLIST = ROOT / "policies" / "data_allowlist.toml"
LOAD_EFFECTS = ROOT / "policies" / "load_effects.toml"
DANGEROUS = ROOT / "policies" / "dangerous.toml"
PROTOCOLS = (2, 4, 5)
FULL = ("reference", "call", "build")
STDLIB = frozenset(sys.stdlib_module_names)


# --- walking a pickle's opcodes ---------------------------------------------------------------------------------

class _Global:
    __slots__ = ("symbol",)

    def __init__(self, symbol):
        self.symbol = symbol


class _Made:
    """What a call returned: BUILD / APPEND / SETITEM on it are uses of the callable that made it."""
    __slots__ = ("origin",)

    def __init__(self, origin):
        self.origin = origin


class _Text:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class _Tuple:
    """A tuple whose items the walk keeps: what a helper calls (load_effects.toml [[passes]]) is an item of one."""
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items


def _passes(key: str) -> dict:
    """(module, name) -> argument positions the callable calls, from policies/load_effects.toml."""
    with open(LOAD_EFFECTS, "rb") as f:
        rules = tomllib.load(f).get("passes", [])
    return {tuple(symbol.rsplit(".", 1)): rule[key] for rule in rules for symbol in rule["symbols"] if key in rule}


_VALUE = object()
_CALLS = {"REDUCE": 2, "NEWOBJ": 2, "NEWOBJ_EX": 3}
# pickle's own helpers build the class they are handed (named on its own): BUILD on their result is not theirs.
_BUILDS_ITS_ARGUMENT = {("copyreg", "_reconstructor"), ("copyreg", "__newobj__"), ("copyreg", "__newobj_ex__")}
_MUTATIONS = {"APPEND": 1, "SETITEM": 2}


def python3_name(module: str, name: str, protocol: int) -> tuple:
    """The (module, name) CPython's unpickler imports: below protocol 3 it maps Python 2 names (fix_imports)."""
    if protocol < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            return _compat_pickle.NAME_MAPPING[(module, name)]
        if module in _compat_pickle.IMPORT_MAPPING:
            return _compat_pickle.IMPORT_MAPPING[module], name
    return module, name


def pickle_globals(data: bytes, uses: dict) -> None:
    """Adds every global `data` names to uses[(module, name)] with how it is used: 'reference' (named at all),
    'call' (REDUCE / NEWOBJ / NEWOBJ_EX / INST / OBJ), 'build' (BUILD on what it returned) and 'mutate'
    (APPEND / SETITEM / ... on what it returned). A symbolic walk of pickletools.genops: nothing is loaded."""
    stack, marks, memo, protocol = [], [], {}, 0
    calls_arguments, build_calls = _passes("calls"), _passes("build_calls")

    def called_items(items, positions):
        for position in positions:
            if isinstance(items, _Tuple) and position < len(items.items):
                used_on(items.items[position], "call")

    def pop_mark():
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    def name(module, attribute):
        symbol = python3_name(module, attribute, protocol)
        uses.setdefault(symbol, set()).add("reference")
        return symbol

    def used_on(item, how):
        origin = item.symbol if isinstance(item, _Global) else item.origin if isinstance(item, _Made) else None
        if origin is not None:
            uses[origin].add(how)

    for opcode, argument, _ in pickletools.genops(data):
        op = opcode.name
        if op == "STOP":
            break
        if op == "PROTO":
            protocol = argument
        elif op == "FRAME" or op == "READONLY_BUFFER":
            pass
        elif op == "MARK":
            marks.append(len(stack))
        elif op == "GLOBAL":
            stack.append(_Global(name(*argument.split(" ", 1))))
        elif op == "STACK_GLOBAL":
            attribute, module = stack.pop(), stack.pop()
            if not (isinstance(attribute, _Text) and isinstance(module, _Text)):
                raise ValueError("STACK_GLOBAL on something other than two strings")
            stack.append(_Global(name(module.value, attribute.value)))
        elif op == "INST":
            pop_mark()
            symbol = name(*argument.split(" ", 1))
            uses[symbol].add("call")
            stack.append(_Made(symbol))
        elif op == "OBJ":
            callee = pop_mark()[0]
            used_on(callee, "call")
            stack.append(_Made(callee.symbol if isinstance(callee, _Global) else None))
        elif op in _CALLS:
            arguments = stack[len(stack) - _CALLS[op] + 1]
            del stack[len(stack) - _CALLS[op] + 1:]
            callee = stack.pop()
            used_on(callee, "call")
            if isinstance(callee, _Global):
                called_items(arguments, calls_arguments.get(callee.symbol, ()))
            made = callee.symbol if isinstance(callee, _Global) else None
            stack.append(_Made(None if made in _BUILDS_ITS_ARGUMENT else made))
        elif op == "BUILD":
            state = stack.pop()
            used_on(stack[-1], "build")
            if isinstance(stack[-1], _Made):
                called_items(state, build_calls.get(stack[-1].origin, ()))
        elif op in _MUTATIONS or op in ("APPENDS", "SETITEMS", "ADDITEMS"):
            if op in _MUTATIONS:
                del stack[len(stack) - _MUTATIONS[op]:]
            else:
                pop_mark()
            used_on(stack[-1], "mutate")
        elif op in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[argument] = stack[-1]
        elif op == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif op in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo[argument])
        elif op == "POP":
            if stack and (not marks or marks[-1] < len(stack)):
                stack.pop()
            else:
                pop_mark()
        elif op == "POP_MARK":
            pop_mark()
        elif op == "DUP":
            stack.append(stack[-1])
        elif op == "TUPLE":
            stack.append(_Tuple(pop_mark()))
        elif op in ("LIST", "DICT", "FROZENSET"):
            pop_mark()
            stack.append(_VALUE)
        elif op in ("TUPLE1", "TUPLE2", "TUPLE3"):
            count = int(op[-1])
            items = stack[len(stack) - count:]
            del stack[len(stack) - count:]
            stack.append(_Tuple(items))
        elif op == "BINPERSID":
            stack[-1] = _VALUE
        elif op in ("EXT1", "EXT2", "EXT4"):
            raise ValueError("extension registry codes: not written by the libraries covered here")
        elif opcode.stack_before == [] and len(opcode.stack_after) == 1:  # pushes one value (PERSID included)
            stack.append(_Text(argument) if isinstance(argument, str) else _VALUE)
        else:
            raise ValueError(f"unhandled opcode {op}")


def torch_pickles(obj, protocol: int) -> list:
    """The pickles torch.save writes: data.pkl (and, for TorchScript-free zips, nothing else that names globals)."""
    import torch
    buffer = io.BytesIO()
    torch.save(obj, buffer, pickle_protocol=protocol)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        return [archive.read(n) for n in sorted(archive.namelist()) if n.endswith(".pkl")]


# --- the real objects, per library ------------------------------------------------------------------------------

class Tally:
    """What a writer built: objects pickled, and candidates skipped (could not be built, fitted or pickled)."""

    def __init__(self):
        self.pickled = 0
        self.skipped = {}

    def skip(self, label: str, error: BaseException) -> None:
        self.skipped[label] = f"{type(error).__name__}: {str(error).splitlines()[0][:120] if str(error) else ''}"


def _attempt(tally, label, make):
    try:
        return make()
    except Exception as error:  # noqa: BLE001 - a candidate the library cannot build with simple arguments
        tally.skip(label, error)
        return None


def _sklearn_data():
    import numpy
    rng = numpy.random.RandomState(0)
    x = numpy.abs(rng.normal(size=(30, 4))) + 0.1
    return {
        "x": x,
        "multiclass": numpy.array([0, 1, 2] * 10),
        "binary": numpy.array([0, 1] * 15),
        "regression": x[:, 0] * 2 + rng.normal(size=30) * 0.1,
        "multilabel": numpy.array([[0, 1], [1, 0], [1, 1]] * 10),
        "regression2": numpy.c_[x[:, 0], x[:, 1]],
        "texts": ["the model loads", "weights and biases", "a tiny corpus", "loads of weights"] * 3,
        "dicts": [{"colour": "red", "size": 1.0}, {"colour": "blue", "size": 2.0}, {"size": 3.0}] * 4,
        "kernel": x @ x.T,
    }


def _fit_variants(estimator, data):
    """(label, arguments) to fit with, in order; a classifier is fitted on binary and multiclass targets."""
    from sklearn.utils import get_tags
    tags = get_tags(estimator)
    x = data["x"]
    if tags.input_tags.dict:
        x = data["dicts"]
    elif not tags.input_tags.two_d_array:
        x = data["texts"]
    elif tags.input_tags.pairwise:
        x = data["kernel"]
    if tags.classifier_tags is not None:
        firsts = [("multiclass", (x, data["multiclass"])), ("binary", (x, data["binary"]))]
        each = True
    elif tags.regressor_tags is not None:
        firsts = [("regression", (x, data["regression"]))]
        each = False
    else:
        firsts = [("unsupervised", (x,))]
        each = False
    fallbacks = [("regression", (x, data["regression"])), ("multilabel", (x, data["multilabel"])),
                 ("regression2", (x, data["regression2"])), ("binary", (x, data["binary"])),
                 ("one-feature", (data["x"][:, 0], data["regression"])), ("three-features", (data["x"][:, :3],)),
                 ("unsupervised", (x,))]
    return firsts, fallbacks, each


def sklearn_objects(tally):
    import numpy
    from sklearn.base import clone
    from sklearn.utils import all_estimators
    try:  # scikit-learn's own parameter sets for its common tests (meta-estimators get a base estimator)
        from sklearn.utils._test_common.instance_generator import _construct_instances
    except ImportError:
        _construct_instances = None
    data = _sklearn_data()

    def instances(cls):
        return list(_construct_instances(cls)) if _construct_instances else [cls()]

    for _, cls in all_estimators():
        label = f"{cls.__module__}.{cls.__qualname__}"
        made = _attempt(tally, label, lambda: instances(cls))
        for index, estimator in enumerate(made or []):
            yield f"{label}#{index}", estimator
            firsts, fallbacks, each = _fit_variants(estimator, data)
            fitted_any, last_error = False, None
            for variant, arguments in firsts + ([] if each else fallbacks):
                try:
                    yield f"{label}#{index} fitted {variant}", clone(estimator).fit(*arguments)
                    fitted_any = True
                    if not each:
                        break
                except Exception as error:  # noqa: BLE001
                    last_error = error
            if not fitted_any and each:
                for variant, arguments in fallbacks:
                    try:
                        yield f"{label}#{index} fitted {variant}", clone(estimator).fit(*arguments)
                        fitted_any = True
                        break
                    except Exception as error:  # noqa: BLE001
                        last_error = error
            if not fitted_any:
                tally.skip(f"{label}#{index} fit", last_error)

    # Parts real writers pickle inside fitted models and search objects.
    from sklearn import gaussian_process, metrics, model_selection, neighbors, preprocessing
    from sklearn.gaussian_process import kernels
    x, y = data["x"], data["regression"]
    for name in sorted(dir(kernels)):
        kernel = getattr(kernels, name)
        if isinstance(kernel, type) and issubclass(kernel, kernels.Kernel) and not inspect.isabstract(kernel):
            made = _attempt(tally, f"kernel {name}", kernel)
            if made is not None:
                yield f"kernel {name}", made
    composite = (kernels.ConstantKernel() * kernels.RBF() + kernels.WhiteKernel()) ** 2
    yield "kernel composite", composite
    yield "kernel compound", kernels.CompoundKernel([kernels.RBF(), kernels.DotProduct()])
    regressor = _attempt(tally, "gaussian process with kernels",
                         lambda: gaussian_process.GaussianProcessRegressor(kernel=composite).fit(x, y))
    if regressor is not None:
        yield "gaussian process with kernels", regressor
    for name in sorted(model_selection.__all__):
        splitter = getattr(model_selection, name)
        if isinstance(splitter, type) and issubclass(
                splitter, (model_selection.BaseCrossValidator, model_selection.BaseShuffleSplit)) \
                and not inspect.isabstract(splitter):
            for arguments in ((), (2,), ([0, 1, 0, 1],)):
                try:
                    yield f"splitter {name}", splitter(*arguments)
                    break
                except Exception as error:  # noqa: BLE001
                    last = error
            else:
                tally.skip(f"splitter {name}", last)
    for name in sorted(metrics.get_scorer_names()):
        yield f"scorer {name}", metrics.get_scorer(name)
    yield "scorer made", metrics.make_scorer(metrics.fbeta_score, beta=2, average="macro")
    search = _attempt(tally, "grid search with a scorer", lambda: model_selection.GridSearchCV(
        neighbors.KNeighborsRegressor(), {"n_neighbors": [1, 2]}, scoring="neg_mean_absolute_error", cv=2).fit(x, y))
    if search is not None:
        yield "grid search with a scorer", search
    for metric in sorted(neighbors.VALID_METRICS["ball_tree"]):
        made = _attempt(tally, f"distance metric {metric}", lambda: metrics.DistanceMetric.get_metric(
            metric, **({"p": 3} if metric == "minkowski" else {"V": numpy.cov(x.T)} if metric == "mahalanobis"
                       else {"w": numpy.ones(4)} if metric == "wminkowski" else {})))
        if made is not None:
            yield f"distance metric {metric}", made
    for tree in (neighbors.KDTree, neighbors.BallTree):
        yield f"{tree.__name__}", tree(x)
    for algorithm in ("ball_tree", "kd_tree", "brute"):
        yield f"nearest neighbours {algorithm}", neighbors.NearestNeighbors(algorithm=algorithm).fit(x)
    yield "function transformer (NumPy ufunc)", preprocessing.FunctionTransformer(numpy.log1p).fit(x)
    yield "function transformer (NumPy function)", preprocessing.FunctionTransformer(numpy.sqrt, numpy.square)


def scipy_objects(tally):
    import numpy
    import scipy.sparse as sparse
    dense = numpy.array([[1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 3.0, 4.0]])
    for kind in ("csr", "csc", "coo", "dok", "lil", "bsr", "dia"):
        for shape in ("matrix", "array"):
            cls = getattr(sparse, f"{kind}_{shape}")
            for dtype in ("float64", "float32", "int64", "int8", "bool", "complex128"):
                made = _attempt(tally, f"{kind}_{shape} {dtype}", lambda: cls(dense.astype(dtype)))
                if made is not None:
                    yield f"{kind}_{shape} {dtype}", made
            yield f"{kind}_{shape} empty", cls((3, 5))
    for kind in ("csr", "coo", "dok"):
        made = _attempt(tally, f"{kind}_array 1-d", lambda: getattr(sparse, f"{kind}_array")(numpy.array([0, 1.0, 0])))
        if made is not None:
            yield f"{kind}_array 1-d", made
    made = _attempt(tally, "coo_array 3-d", lambda: sparse.coo_array(numpy.ones((2, 2, 2))))
    if made is not None:
        yield "coo_array 3-d", made
    yield "random csr", sparse.random(5, 5, density=0.3, format="csr", random_state=0)
    yield "block diagonal", sparse.block_diag([numpy.eye(2), numpy.eye(1)])
    yield "identity", sparse.identity(3)
    yield "kron bsr", sparse.kron(sparse.eye(2), numpy.ones((2, 2)), format="bsr")
    yield "diags", sparse.diags([1.0, 2.0, 3.0])
    yield "eye_array", sparse.eye_array(3)


def pandas_objects(tally):
    import datetime

    import numpy
    import pandas
    from pandas.tseries import offsets
    when = pandas.date_range("2024-01-01", periods=3, freq="D")
    zones = [datetime.timezone.utc, datetime.timezone(datetime.timedelta(hours=2)), "UTC"]
    try:
        import zoneinfo
        zones.append(zoneinfo.ZoneInfo("Europe/Paris"))
    except Exception as error:  # noqa: BLE001 - no tz database on this machine
        tally.skip("zoneinfo Europe/Paris", error)
    columns = {
        "int": [1, 2, 3], "float": [1.0, numpy.nan, 3.0], "bool": [True, False, True], "object": ["a", None, 3],
        "str": ["x", "y", "z"], "complex": [1j, 2, 3], "when": when, "delta": pandas.to_timedelta([1, 2, 3], "D"),
        "category": pandas.Categorical(["u", "v", "u"]),
        "ordered": pandas.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"], ordered=True),
        "period": pandas.period_range("2024-01", periods=3, freq="M"),
        "interval": pandas.interval_range(0, 3), "Int64": pandas.array([1, None, 3], dtype="Int64"),
        "UInt8": pandas.array([1, None, 3], dtype="UInt8"), "Float64": pandas.array([1.5, None, 3], dtype="Float64"),
        "boolean": pandas.array([True, None, False], dtype="boolean"),
        "string": pandas.array(["p", None, "q"], dtype="string"),
        "sparse": pandas.arrays.SparseArray([0, 0, 1]), "sparse_float": pandas.arrays.SparseArray([0.0, numpy.nan, 1.5]),
    }
    for zone in zones:
        columns[f"when_{zone}"] = pandas.date_range("2024-01-01", periods=3, freq="h", tz=zone)
    for storage in ("python", "pyarrow"):
        made = _attempt(tally, f"string[{storage}]", lambda: pandas.array(["p", None, "q"], dtype=f"string[{storage}]"))
        if made is not None:
            columns[f"string_{storage}"] = made
    frame = pandas.DataFrame(columns)
    yield "frame, every column dtype", frame
    yield "frame, consolidated numeric", pandas.DataFrame(numpy.arange(12.0).reshape(3, 4), columns=list("abcd"))
    yield "frame, empty", pandas.DataFrame()
    flagged = frame.copy()
    flagged.attrs["source"] = "test"
    flagged = flagged.set_flags(allows_duplicate_labels=False)
    yield "frame, attrs and flags", flagged
    for name in columns:
        yield f"series {name}", frame[name].rename(name)
    yield "frame, multiindex columns", pandas.DataFrame(
        numpy.ones((2, 2)), columns=pandas.MultiIndex.from_tuples([("a", 1), ("a", 2)], names=["k", "n"]))
    indexes = {
        "range": pandas.RangeIndex(5), "int": pandas.Index([3, 1, 2]), "uint": pandas.Index(numpy.array([1, 2], "uint8")),
        "float": pandas.Index([1.5, 2.5]), "object": pandas.Index(["a", 1]), "str": pandas.Index(["a", "b"]),
        "bool": pandas.Index([True, False]), "complex": pandas.Index([1j, 2]),
        "multi": pandas.MultiIndex.from_product([["a", "b"], [1, 2]], names=["x", "y"]),
        "categorical": pandas.CategoricalIndex(["a", "b", "a"]), "datetime": when,
        "datetime_business": pandas.bdate_range("2024-01-01", periods=3),
        "timedelta": pandas.timedelta_range("1D", periods=3), "period": pandas.period_range("2024", periods=2, freq="Y"),
        "interval": pandas.IntervalIndex.from_breaks([0, 1, 2], closed="left"), "Int64": pandas.Index(columns["Int64"]),
        "string": pandas.Index(columns["string"]), "empty": pandas.Index([]),
    }
    for zone in zones:
        indexes[f"datetime_{zone}"] = columns[f"when_{zone}"]
    for name, index in indexes.items():
        yield f"index {name}", index
        yield f"series on index {name}", pandas.Series(range(len(index)), index=index)
    scalars = {
        "timestamp": pandas.Timestamp("2024-01-01 12:00"), "timestamp_ns": pandas.Timestamp(1, unit="ns"),
        "timedelta": pandas.Timedelta("1D 2h"), "period": pandas.Period("2024-01", "M"),
        "period_day": pandas.Period("2024-01-02", "D"), "interval": pandas.Interval(0, 1, closed="both"),
        "interval_time": pandas.Interval(pandas.Timestamp("2024"), pandas.Timestamp("2025")),
        "nat": pandas.NaT, "na": pandas.NA,
    }
    for zone in zones:
        scalars[f"timestamp_{zone}"] = pandas.Timestamp("2024-01-01", tz=zone)
    yield from ((f"scalar {k}", v) for k, v in scalars.items())
    arrays = {
        "categorical": columns["category"], "sparse": columns["sparse"], "interval": pandas.arrays.IntervalArray.from_breaks([0, 1, 2]),
        "period": pandas.array(columns["period"]), "datetime": pandas.array(when),
        "datetime_tz": pandas.array(columns["when_UTC"]), "timedelta": pandas.array(columns["delta"]),
        "integer": columns["Int64"], "floating": columns["Float64"], "boolean": columns["boolean"],
        "string": columns["string"], "numpy": pandas.arrays.NumpyExtensionArray(numpy.arange(3)),
    }
    yield from ((f"array {k}", v) for k, v in arrays.items())
    dtypes = [pandas.CategoricalDtype(["a", "b"], ordered=True), pandas.DatetimeTZDtype(tz="UTC"),
              pandas.PeriodDtype("M"), pandas.IntervalDtype("int64", "right"), pandas.SparseDtype("float64", 0.0),
              pandas.StringDtype(), pandas.Int64Dtype(), pandas.UInt32Dtype(), pandas.Float32Dtype(),
              pandas.BooleanDtype()]
    yield from ((f"dtype {d}", d) for d in dtypes)
    for name in sorted(dir(offsets)):
        offset = getattr(offsets, name)
        if isinstance(offset, type) and issubclass(offset, offsets.BaseOffset) and name != "BaseOffset":
            made = _attempt(tally, f"offset {name}", offset)
            if made is not None:
                yield f"offset {name}", made


def _module_candidates(module, base):
    return [getattr(module, name) for name in sorted(dir(module))
            if isinstance(getattr(module, name), type) and issubclass(getattr(module, name), base)]


def torch_objects(tally):
    import torch
    from torch import nn
    torch.manual_seed(0)
    torch.set_num_threads(1)
    special = {
        "Transformer": lambda: nn.Transformer(8, 2, 1, 1, 8),
        "TransformerEncoderLayer": lambda: nn.TransformerEncoderLayer(8, 2, 8),
        "TransformerDecoderLayer": lambda: nn.TransformerDecoderLayer(8, 2, 8),
        "TransformerEncoder": lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 8), 1),
        "TransformerDecoder": lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 8), 1),
        "MultiheadAttention": lambda: nn.MultiheadAttention(8, 2),
        "AdaptiveLogSoftmaxWithLoss": lambda: nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4]),
        "Sequential": lambda: nn.Sequential(nn.Linear(2, 2), nn.ReLU()),
        "ModuleList": lambda: nn.ModuleList([nn.Linear(2, 2)]),
        "ModuleDict": lambda: nn.ModuleDict({"a": nn.Linear(2, 2)}),
        "ParameterList": lambda: nn.ParameterList([nn.Parameter(torch.ones(2))]),
        "ParameterDict": lambda: nn.ParameterDict({"a": nn.Parameter(torch.ones(2))}),
        "Fold": lambda: nn.Fold((4, 4), 2),
        "Unfold": lambda: nn.Unfold(2),
    }
    guesses = ((), (4,), (4, 4), (4, 4, 3), (4, 4, 4))
    namespaces = [nn]
    for name in ("torch.ao.nn.quantized", "torch.ao.nn.quantized.dynamic", "torch.ao.nn.qat",
                 "torch.ao.nn.intrinsic", "torch.ao.nn.intrinsic.qat", "torch.ao.nn.intrinsic.quantized"):
        try:
            namespaces.append(importlib.import_module(name))
        except ImportError as error:
            tally.skip(name, error)
    seen = set()
    for namespace in namespaces:
        for cls in _module_candidates(namespace, nn.Module):
            if cls in seen or cls is nn.Module or inspect.isabstract(cls):
                continue
            seen.add(cls)
            label = f"{cls.__module__}.{cls.__qualname__}"
            if cls.__name__ in special and namespace is nn:
                yield label, special[cls.__name__]()
                continue
            made = None
            for arguments in guesses:
                try:
                    made = cls(*arguments)
                    break
                except Exception as error:  # noqa: BLE001
                    last = error
            if made is None:
                tally.skip(label, last)
            else:
                yield label, made
    yield "TransformerEncoderLayer gelu", nn.TransformerEncoderLayer(8, 2, 8, activation="gelu")
    yield "TransformerDecoderLayer gelu", nn.TransformerDecoderLayer(8, 2, 8, activation="gelu")
    yield "TransformerEncoderLayer norm_first", nn.TransformerEncoderLayer(8, 2, 8, norm_first=True, batch_first=True)
    lazy = nn.LazyLinear(2)
    lazy(torch.ones(1, 3))
    yield "LazyLinear materialised", lazy
    yield "Parameter", nn.Parameter(torch.ones(2))
    yield "Buffer", nn.Buffer(torch.ones(2)) if hasattr(nn, "Buffer") else torch.ones(2)
    from torch.nn.utils import prune, rnn
    for method in ("l1_unstructured", "random_unstructured", "identity"):
        layer = nn.Linear(4, 4)
        getattr(prune, method)(layer, "weight", **({} if method == "identity" else {"amount": 0.5}))
        yield f"pruned {method}", layer
    for method in ("ln_structured", "random_structured"):
        layer = nn.Linear(4, 4)
        getattr(prune, method)(layer, "weight", amount=0.5, dim=0, **({"n": 2} if method == "ln_structured" else {}))
        yield f"pruned {method}", layer
    both = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    prune.global_unstructured([(both[0], "weight"), (both[1], "weight")], pruning_method=prune.L1Unstructured,
                              amount=0.3)
    prune.l1_unstructured(both[0], "weight", amount=0.2)  # a second method: PruningContainer
    yield "pruned twice", both
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield "weight_norm (hook)", nn.utils.weight_norm(nn.Linear(4, 4))
        yield "spectral_norm (hook)", nn.utils.spectral_norm(nn.Linear(4, 4))
    packed = rnn.pack_padded_sequence(torch.ones(3, 2, 4), [3, 2])
    yield "packed sequence", packed
    yield "LSTM output", nn.LSTM(4, 2)(packed)
    quantized = _attempt(tally, "quantize_dynamic", lambda: torch.ao.quantization.quantize_dynamic(
        nn.Sequential(nn.Linear(4, 4), nn.LSTM(4, 4)), {nn.Linear, nn.LSTM}, dtype=torch.qint8))
    if quantized is not None:
        yield "quantize_dynamic", quantized
    yield from _torch_optim_objects(tally)


def _torch_optim_objects(tally):
    import torch
    from torch import nn, optim
    from torch.optim import lr_scheduler, swa_utils

    def model_and_optimizer(cls=optim.SGD, **options):
        model = nn.Linear(2, 1)
        return model, cls(model.parameters(), **options)

    def step(model, optimizer):
        def closure():
            optimizer.zero_grad()
            loss = model(torch.ones(3, 2)).pow(2).sum()
            loss.backward()
            return loss
        optimizer.step(closure)

    for cls in _module_candidates(optim, optim.Optimizer):
        if cls is optim.Optimizer:
            continue
        label = f"{cls.__module__}.{cls.__qualname__}"
        made = _attempt(tally, label, lambda: model_and_optimizer(cls, lr=0.01))
        if made is None:
            continue
        yield label, made[1]
        try:
            step(*made)
        except Exception as error:  # noqa: BLE001 - SparseAdam wants sparse gradients
            tally.skip(f"{label} step", error)
            continue
        yield f"{label} after a step", made[1]
    schedulers = {
        "StepLR": lambda o: lr_scheduler.StepLR(o, 1), "MultiStepLR": lambda o: lr_scheduler.MultiStepLR(o, [1]),
        "ConstantLR": lambda o: lr_scheduler.ConstantLR(o), "LinearLR": lambda o: lr_scheduler.LinearLR(o),
        "ExponentialLR": lambda o: lr_scheduler.ExponentialLR(o, 0.9),
        "SequentialLR": lambda o: lr_scheduler.SequentialLR(
            o, [lr_scheduler.ConstantLR(o), lr_scheduler.ExponentialLR(o, 0.9)], [1]),
        "CosineAnnealingLR": lambda o: lr_scheduler.CosineAnnealingLR(o, 10),
        "ChainedScheduler": lambda o: lr_scheduler.ChainedScheduler(
            [lr_scheduler.ConstantLR(o), lr_scheduler.ExponentialLR(o, 0.9)], optimizer=o),
        "ReduceLROnPlateau": lambda o: lr_scheduler.ReduceLROnPlateau(o),
        "CyclicLR": lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1),
        "CyclicLR exp_range": lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, mode="exp_range"),
        "OneCycleLR": lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10),
        "CosineAnnealingWarmRestarts": lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 2),
        "PolynomialLR": lambda o: lr_scheduler.PolynomialLR(o),
        "SWALR": lambda o: swa_utils.SWALR(o, swa_lr=0.05),
    }
    covered = {name.split()[0] for name in schedulers}
    for cls in _module_candidates(lr_scheduler, lr_scheduler.LRScheduler) + [lr_scheduler.ReduceLROnPlateau]:
        if cls.__name__ not in covered and cls is not lr_scheduler.LRScheduler and cls.__name__ != "_LRScheduler":
            tally.skip(f"{cls.__module__}.{cls.__qualname__}", TypeError("needs a Python callable (a lambda)"))
    for name, make in schedulers.items():
        model, optimizer = model_and_optimizer(lr=0.01, momentum=0.9)
        scheduler = _attempt(tally, f"scheduler {name}", lambda: make(optimizer))
        if scheduler is None:
            continue
        yield f"scheduler {name}", scheduler
        step(model, optimizer)
        scheduler.step(*((1.0,) if name == "ReduceLROnPlateau" else ()))
        yield f"scheduler {name} after a step", {"optimizer": optimizer, "scheduler": scheduler}
    model = nn.Linear(2, 1)
    yield "AveragedModel", swa_utils.AveragedModel(model)
    yield "AveragedModel ema", swa_utils.AveragedModel(model, multi_avg_fn=None, use_buffers=True)


def transformers_objects(tally):
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    small = dict(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                 max_position_embeddings=16)
    models = {
        "BertModel": ("BertConfig", small),
        "BertForSequenceClassification": ("BertConfig", small),
        "BertForMaskedLM": ("BertConfig", small),
        "RobertaModel": ("RobertaConfig", dict(small, max_position_embeddings=20)),
        "DistilBertForSequenceClassification": ("DistilBertConfig", dict(vocab_size=32, dim=8, n_layers=1, n_heads=2,
                                                                           hidden_dim=16, max_position_embeddings=16)),
        "GPT2LMHeadModel": ("GPT2Config", dict(vocab_size=32, n_embd=8, n_layer=1, n_head=2, n_positions=16)),
        "T5ForConditionalGeneration": ("T5Config", dict(vocab_size=32, d_model=8, d_kv=4, d_ff=16, num_layers=1,
                                                        num_heads=2)),
        "LlamaForCausalLM": ("LlamaConfig", dict(small, num_key_value_heads=1)),
        "MistralForCausalLM": ("MistralConfig", dict(small, num_key_value_heads=1)),
        "Qwen2ForCausalLM": ("Qwen2Config", dict(small, num_key_value_heads=1)),
        "GemmaForCausalLM": ("GemmaConfig", dict(small, num_key_value_heads=1, head_dim=4)),
        "AlbertModel": ("AlbertConfig", dict(small, embedding_size=8)),
        "ElectraModel": ("ElectraConfig", dict(small, embedding_size=8)),
        "XLMRobertaModel": ("XLMRobertaConfig", small),
        "DebertaV2Model": ("DebertaV2Config", small),
        "BartForConditionalGeneration": ("BartConfig", dict(
            vocab_size=32, d_model=8, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16, max_position_embeddings=16)),
        "WhisperForConditionalGeneration": ("WhisperConfig", dict(
            vocab_size=64, d_model=8, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16, num_mel_bins=8, max_source_positions=16,
            max_target_positions=16, decoder_start_token_id=1, pad_token_id=0, bos_token_id=1, eos_token_id=2,
            suppress_tokens=[], begin_suppress_tokens=[])),
        "ViTForImageClassification": ("ViTConfig", dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                                        intermediate_size=16, image_size=8, patch_size=4)),
        "CLIPModel": ("CLIPConfig", dict(
            text_config=dict(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=16, max_position_embeddings=16),
            vision_config=dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                               image_size=8, patch_size=4), projection_dim=8)),
    }
    for model_name, (config_name, options) in models.items():
        def build():
            config = getattr(transformers, config_name)(**options)
            return config, getattr(transformers, model_name)(config)
        made = _attempt(tally, model_name, build)
        if made is None:
            continue
        config, model = made
        yield config_name, config
        yield model_name, model
        if model.can_generate():
            yield f"{model_name} generation config", model.generation_config
    yield "GenerationConfig", transformers.GenerationConfig(max_new_tokens=4, do_sample=True, top_k=5)
    from transformers import activations
    for name in sorted(activations.ACT2CLS):
        made = _attempt(tally, f"activation {name}", lambda: activations.get_activation(name))
        if made is not None:
            yield f"activation {name}", made


def lightgbm_objects(tally):
    import lightgbm
    import numpy
    rng = numpy.random.RandomState(0)
    x = rng.normal(size=(60, 3))
    binary = (x[:, 0] > 0).astype(int)
    multiclass = numpy.digitize(x[:, 0], [-0.5, 0.5])
    quiet = dict(n_estimators=3, verbose=-1, n_jobs=1)
    yield "LGBMClassifier", lightgbm.LGBMClassifier(**quiet)
    yield "LGBMClassifier binary", lightgbm.LGBMClassifier(**quiet).fit(x, binary)
    yield "LGBMClassifier multiclass", lightgbm.LGBMClassifier(**quiet).fit(x, multiclass)
    yield "LGBMClassifier string labels", lightgbm.LGBMClassifier(**quiet).fit(x, numpy.array(["a", "b"])[binary])
    yield "LGBMRegressor", lightgbm.LGBMRegressor(**quiet).fit(x, x[:, 1])
    yield "LGBMRanker", lightgbm.LGBMRanker(**quiet, min_child_samples=1).fit(x, binary, group=[20, 20, 20])
    parameters = {"objective": "regression", "verbose": -1, "num_threads": 1}
    booster = lightgbm.train(parameters, lightgbm.Dataset(x, x[:, 1]), num_boost_round=3)
    yield "Booster", booster
    yield "Booster from a model string", lightgbm.Booster(model_str=booster.model_to_string())


def xgboost_objects(tally):
    import numpy
    import xgboost
    rng = numpy.random.RandomState(0)
    x = rng.normal(size=(60, 3))
    binary = (x[:, 0] > 0).astype(int)
    quiet = dict(n_estimators=3, n_jobs=1)
    yield "XGBClassifier", xgboost.XGBClassifier(**quiet)
    yield "XGBClassifier fitted", xgboost.XGBClassifier(**quiet).fit(x, binary)
    yield "XGBRegressor fitted", xgboost.XGBRegressor(**quiet).fit(x, x[:, 1])
    yield "XGBRanker fitted", xgboost.XGBRanker(**quiet).fit(x, binary, qid=numpy.repeat([0, 1, 2], 20))
    yield "XGBRFClassifier fitted", xgboost.XGBRFClassifier(**quiet).fit(x, binary)
    yield "Booster", xgboost.train({"nthread": 1}, xgboost.DMatrix(x, x[:, 1]), num_boost_round=3)


@dataclass
class Library:
    name: str              # as in the header
    distribution: str      # for importlib.metadata.version
    module: str            # must import, or the library is skipped
    writer: object
    torch_save: bool = False
    described: str = ""    # what was pickled, for the header


@dataclass
class Group:
    stem: str              # policies/trust/<stem>.toml, --trust <stem>
    title: str             # first line of the header
    packages: tuple        # top-level packages whose symbols this file owns
    libraries: tuple
    areas: tuple           # (prefix, what) for table reasons, first match wins
    extra: tuple = ()      # distributions whose versions the header also names


GROUPS = (
    Group("scikit-learn", "Opt-in trust for scikit-learn estimators, transformers and pipelines pickled whole",
          ("sklearn",),
          (Library("scikit-learn", "scikit-learn", "sklearn", sklearn_objects,
                   described="every estimator of sklearn.utils.all_estimators() that scikit-learn's own test "
                             "parameters build, unfitted and fitted on a tiny dataset; kernels, splitters, scorers, "
                             "distance metrics, neighbour trees, a grid search"),),
          (("sklearn", "scikit-learn estimators and their fitted parts (trees, losses, kernels, splitters, "
                       "scorers)"),),
          ("numpy", "scipy")),
    Group("numpy-scipy-pandas", "Opt-in trust for pandas and SciPy objects (DataFrames, Series, indexes, sparse "
                                "matrices) in pickles", ("pandas", "scipy"),
          (Library("SciPy", "scipy", "scipy.sparse", scipy_objects,
                   described="every scipy.sparse matrix and array format in several dtypes"),
           Library("pandas", "pandas", "pandas", pandas_objects,
                   described="DataFrames and Series of every column dtype, every index type, scalars, extension "
                             "arrays, dtypes and date offsets")),
          (("pandas", "pandas containers, indexes, arrays, dtypes and scalars"),
           ("scipy", "SciPy sparse matrices and arrays, and the SciPy objects estimators hold")),
          ("numpy",)),
    Group("torch-modules", "Opt-in trust for whole PyTorch modules and optimizers saved with torch.save(model) / "
                           "torch.save(optimizer)", ("torch",),
          (Library("PyTorch", "torch", "torch", torch_objects, torch_save=True,
                   described="every torch.nn (and torch.ao.nn) module class built with small arguments, "
                             "containers, pruned and normalised layers, every optimizer (before and after a step) "
                             "and learning-rate scheduler"),),
          (("torch.optim", "torch optimizers and learning-rate schedulers"),
           ("torch", "torch.nn layers, containers, parameters and their hooks"))),
    Group("transformers", "Opt-in trust for Hugging Face transformers models pickled whole (torch.save(model), "
                          "older checkpoints)", ("transformers",),
          (Library("transformers", "transformers", "transformers", transformers_objects, torch_save=True,
                   described="tiny BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ALBERT, ELECTRA, DeBERTa-v2, GPT-2, T5, "
                             "BART, Llama, Mistral, Qwen2, Gemma, Whisper, ViT and CLIP models with their "
                             "configurations and generation configurations, every activation; other architectures "
                             "are not covered"),),
          (("transformers", "transformers models, configurations and layers"),),
          ("torch",)),
    Group("gradient-boosting", "Opt-in trust for LightGBM and XGBoost models pickled through their scikit-learn "
                               "wrappers or as boosters", ("lightgbm", "xgboost"),
          (Library("LightGBM", "lightgbm", "lightgbm", lightgbm_objects,
                   described="LGBMClassifier, LGBMRegressor and LGBMRanker (unfitted and fitted), boosters"),
           Library("XGBoost", "xgboost", "xgboost", xgboost_objects,
                   described="XGBClassifier, XGBRegressor, XGBRanker, XGBRFClassifier, boosters")),
          (("lightgbm", "LightGBM boosters and scikit-learn wrappers"),
           ("xgboost", "XGBoost boosters and scikit-learn wrappers"))),
)


def owner_of(symbol: tuple):
    top = symbol[0].split(".")[0]
    for group in GROUPS:
        if top in group.packages:
            return group.stem
    return None


# --- policies this one must not repeat or contradict ------------------------------------------------------------

def _load_toml(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def allowlisted() -> dict:
    """symbol -> effects the data allowlist permits."""
    out = {}
    for rule in _load_toml(ALLOWLIST).get("allow", []):
        for symbol in rule["symbols"]:
            out[symbol] = set(rule["effects"])
    return out


def denied(symbol: str) -> bool:
    """Dangerous families win over trust: trusting one of them would be pointless (and a red flag)."""
    parts = symbol.split(".")
    for rule in _load_toml(DANGEROUS).get("deny", []):
        if symbol in rule.get("symbols", []):
            return True
        for module in rule.get("modules", []):
            tail = module.split(".")
            for begin in range(len(parts)):
                if parts[begin:begin + len(tail)] == tail and not any(
                        parts[begin:begin + len(e.split("."))] == e.split(".") for e in rule.get("exempt", [])):
                    return True
    return False


# --- resolving and reviewing what is trusted --------------------------------------------------------------------

def resolve(symbol: tuple):
    """What CPython's find_class returns for (module, name), without the pickle: import, then walk the name."""
    obj = importlib.import_module(symbol[0])
    for part in symbol[1].split("."):
        obj = getattr(obj, part)
    return obj


def resolve_dotted(dotted: str):
    """Resolves a policy's "module.name" (the split is lost): the longest importable module, then attributes."""
    parts = dotted.split(".")
    errors = []
    for split in range(len(parts) - 1, 0, -1):
        try:
            return resolve((".".join(parts[:split]), ".".join(parts[split:])))
        except (ImportError, AttributeError) as error:
            errors.append(error)
    raise ImportError(f"cannot resolve {dotted}: {errors[-1] if errors else ''}")


def is_class(obj) -> bool:
    return isinstance(obj, type)


# Calls of these, whatever they are named in the function's module, reach code execution, processes, files,
# sockets or deserialisation.
SINK_OBJECTS = {
    "builtins": {"exec", "eval", "compile", "__import__", "open", "breakpoint", "input", "execfile"},
    "io": {"open", "open_code", "FileIO"}, "_io": {"open", "open_code", "FileIO"},
    "os": {"system", "popen", "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe",
           "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "posix_spawn",
           "posix_spawnp", "fork", "forkpty", "startfile", "kill", "killpg", "remove", "unlink", "rmdir",
           "removedirs", "rename", "renames", "replace", "open", "fdopen", "truncate", "chmod", "chown", "putenv",
           "write", "link", "symlink", "mkdir", "makedirs"},
    "importlib": {"import_module", "reload", "__import__"},
    "pickle": {"load", "loads", "Unpickler"}, "_pickle": {"load", "loads", "Unpickler"},
    "marshal": {"load", "loads"}, "shelve": {"open"},
    "shutil": {"rmtree", "move", "copy", "copyfile", "copy2", "copytree", "unpack_archive"},
    "codecs": {"open"}, "gzip": {"open"}, "bz2": {"open"}, "lzma": {"open"}, "tarfile": {"open"},
    "runpy": {"run_path", "run_module"}, "code": {"interact", "InteractiveInterpreter", "InteractiveConsole"},
    "webbrowser": {"open", "open_new", "open_new_tab"}, "pydoc": {"locate", "pipepager"},
    "pkgutil": {"resolve_name", "get_data"}, "types": {"FunctionType", "CodeType"},
    "torch": {"load"}, "joblib": {"load"}, "numpy": {"load", "fromfile", "loadtxt", "genfromtxt"},
    "pandas": {"read_pickle", "read_csv"},
}
# Any use of these modules (or of names from them) is a sink.
SINK_MODULES = {"subprocess", "pty", "socket", "ctypes", "_ctypes", "cffi", "marshal", "runpy", "multiprocessing",
                "urllib", "http", "ftplib", "smtplib", "telnetlib", "requests", "dill", "cloudpickle",
                "_posixsubprocess", "importlib", "zipimport"}
SINK_CALLS = {"exec", "eval", "compile", "__import__", "open", "breakpoint", "execfile", "import_module",
              "system", "popen", "urlopen", "create_connection", "CDLL", "PyDLL", "WinDLL", "LoadLibrary",
              "dlopen", "run_path", "run_module", "read_pickle"}
SINK_QUALIFIED = {("pickle", "loads"), ("pickle", "load"), ("marshal", "loads"), ("marshal", "load"),
                  ("torch", "load"), ("joblib", "load"), ("np", "load"), ("numpy", "load")}
_OS_SINK = ("system", "popen", "exec", "spawn", "posix_spawn", "fork", "startfile", "kill", "remove", "unlink",
            "rmdir", "rename", "replace", "chmod", "chown", "truncate", "putenv", "fdopen")

# Compiled functions (Cython, C) have no Python source to walk; these were read in the library's source instead.
# A compiled function a pickle calls that is not listed here is dropped (fail closed); one that is only named
# (an activation stored as an attribute, a NumPy ufunc) is kept: the load never calls it.
COMPILED_REVIEWED = {
    "sklearn.*.__pyx_unpickle_*": "Cython's generated unpickler: checks the layout checksum, then "
                                  "Class.__new__(type) (a subtype of its own class) and sets the C fields",
    "pandas._libs.*.__pyx_unpickle_*": "Cython's generated unpickler: checks the layout checksum, then "
                                       "Class.__new__(type) (a subtype of its own class) and sets the C fields",
    "sklearn.metrics._dist_metrics.newObj": "sklearn/metrics/_dist_metrics.pyx.tp: `return obj.__new__(obj)`",
    "sklearn.neighbors._ball_tree.newObj": "sklearn/neighbors/_binary_tree.pxi.tp: `return obj.__new__(obj)`",
    "sklearn.neighbors._kd_tree.newObj": "sklearn/neighbors/_binary_tree.pxi.tp: `return obj.__new__(obj)`",
    "pandas._libs.internals._unpickle_block": "pandas/_libs/internals.pyx: maybe_coerce_values, BlockPlacement, "
                                              "new_block(values, placement, ndim=ndim)",
    "pandas._libs.tslibs.timestamps._unpickle_timestamp": "pandas/_libs/tslibs/timestamps.pyx: "
                                                          "Timestamp._from_value_and_reso(value, reso, tz)",
    "pandas._libs.tslibs.timedeltas._timedelta_unpickle": "pandas/_libs/tslibs/timedeltas.pyx: "
                                                          "_timedelta_from_value_and_reso(Timedelta, value, reso)",
    "pandas._libs.tslibs.nattype._nat_unpickle": "pandas/_libs/tslibs/nattype.pyx: `return c_NaT`",
    # Wrapped by functools.partial(gelu, approximate="tanh") in transformers' activations: the partial is judged as
    # a call of what it wraps (policies/load_effects.toml), so the wrapped function needs its own review.
    "torch._C._nn.gelu": "ATen's gelu (aten/src/ATen/native/Activation.cpp): elementwise tensor math on its input",
}


# Classes real writers pickle that are still not trusted: what they run on load is chosen by the pickle.
NOT_TRUSTED = {
    "torch.ScriptObject": "torch._C.ScriptObject: its __setstate__ hands the state to whichever TorchBind class the "
                          "pickle names (quantized packed parameters, but also any class an extension registers)",
}
# Methods a load may run on a trusted class: NEWOBJ (__new__), REDUCE (the class called: __init__), BUILD
# (__setstate__), APPEND / SETITEM (a list or dict subclass).
LOAD_TIME_METHODS = ("__new__", "__init__", "__setstate__", "__setitem__", "append", "extend")


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _sink_object(obj) -> str:
    if isinstance(obj, types.ModuleType):
        top = obj.__name__.split(".")[0]
        return obj.__name__ if top in SINK_MODULES or obj.__name__ in SINK_MODULES else ""
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__name__", None) or ""
    if module.split(".")[0] in SINK_MODULES:
        return f"{module}.{name}"
    if name in SINK_OBJECTS.get(module, ()) or (module in ("os", "posix", "nt") and (
            name in SINK_OBJECTS["os"] or name.startswith(_OS_SINK))):
        return f"{module}.{name}"
    return ""


def _lookup(function, parts):
    """Statically resolves a dotted name used in `function` against its module globals (no calls)."""
    namespace = getattr(function, "__globals__", {})
    if parts[0] in namespace:
        obj = namespace[parts[0]]
    elif hasattr(builtins, parts[0]):
        obj = getattr(builtins, parts[0])
    else:
        return None
    for part in parts[1:]:
        if not isinstance(obj, types.ModuleType):  # only walk modules: class attributes may be descriptors
            return obj
        try:
            obj = getattr(obj, part)
        except Exception:  # noqa: BLE001 - a lazy module that refuses the attribute
            return None
    return obj


def _local_names(node) -> set:
    """Names the function binds itself (parameters, assignments, loop targets, local imports): a parameter
    called `input` is not builtins.input."""
    arguments = node.args
    names = {a.arg for a in arguments.args + arguments.posonlyargs + arguments.kwonlyargs}
    names |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            names.add(child.id)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and child is not node:
            names.add(child.name)
        elif isinstance(child, ast.arg):
            names.add(child.arg)
    return names


def _function_node(function):
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))


def sinks_in(function) -> list:
    """The sinks `function`'s own body reaches (what it names and calls, not what the functions it calls do), from
    its source: every name is resolved against the function's module globals (so `from subprocess import run as
    go` is caught), and a call that cannot be resolved statically is judged by its name."""
    node = _function_node(function)
    body = node.body if isinstance(node.body, list) else [node.body]
    defaults = node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
    local = _local_names(node)
    found = []
    for statement in body + defaults:
        for child in ast.walk(statement):
            line = f"(line {getattr(child, 'lineno', '?')})"
            if isinstance(child, (ast.Name, ast.Attribute)) and isinstance(getattr(child, "ctx", None), ast.Load):
                parts = _dotted(child)
                if not parts or parts[0] in local:  # a parameter or local variable, whatever its name
                    continue
                sink = _sink_object(_lookup(function, parts))
                if parts[0] in SINK_MODULES or sink:
                    found.append(f"names {'.'.join(parts)}{' = ' + sink if sink else ''} {line}")
            elif isinstance(child, ast.Call):
                parts = _dotted(child.func)
                if parts and parts[0] not in local and _lookup(function, parts) is None:
                    first, last = parts[0], parts[-1]
                    if last in SINK_CALLS or (first == "os" and last.startswith(_OS_SINK)) \
                            or (first, last) in SINK_QUALIFIED:
                        found.append(f"calls {'.'.join(parts)}, which does not resolve statically {line}")
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] in SINK_MODULES:
                        found.append(f"imports {alias.name} {line}")
            elif isinstance(child, ast.ImportFrom) and child.module:
                for alias in child.names:
                    if child.module.split(".")[0] in SINK_MODULES or alias.name in SINK_OBJECTS.get(child.module, ()):
                        found.append(f"imports {alias.name} from {child.module} {line}")
    return sorted(set(found))


def _calls_a_parameter(function) -> list:
    """Parameters the body calls (or calls methods of): what the pickle supplies decides what runs."""
    try:
        node = _function_node(function)
    except (OSError, TypeError, SyntaxError):
        return []
    parameters = {a.arg for a in node.args.args + node.args.posonlyargs + node.args.kwonlyargs}
    called = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            parts = _dotted(child.func)
            if parts and parts[0] in parameters and parts[0] not in ("self",):
                called.add(".".join(parts))
    return sorted(called)


@dataclass
class Review:
    symbol: str
    verdict: str           # ok | compiled-reviewed | compiled-reference | FAIL
    detail: str = ""
    calls_parameters: list = field(default_factory=list)


def review_function(symbol: str, obj, called: bool) -> Review:
    function = inspect.unwrap(obj) if callable(obj) else obj
    if not inspect.isfunction(function):
        implementation = getattr(function, "_implementation", None)  # NumPy's array-function dispatchers
        if inspect.isfunction(implementation):
            function = implementation
    if inspect.isfunction(function):
        try:
            found = sinks_in(function)
        except (OSError, TypeError, SyntaxError) as error:
            return Review(symbol, "FAIL", f"no Python source to review ({type(error).__name__})")
        if found:
            return Review(symbol, "FAIL", "; ".join(found))
        where = f"{inspect.getsourcefile(function)}:{function.__code__.co_firstlineno}"
        return Review(symbol, "ok", f"Python source walked ({where.split('site-packages/')[-1]})",
                      _calls_a_parameter(function))
    for pattern, why in COMPILED_REVIEWED.items():
        if fnmatch.fnmatchcase(symbol, pattern):
            return Review(symbol, "compiled-reviewed", why)
    if not callable(obj):
        return Review(symbol, "value", f"a {type(obj).__name__} instance (a singleton value), not callable")
    if not called:
        return Review(symbol, "compiled-reference", f"compiled {type(obj).__name__}, named but never called on load")
    return Review(symbol, "FAIL", f"compiled {type(obj).__name__} without source, not in COMPILED_REVIEWED")


def review_class(symbol: str, cls) -> list:
    """For information: sinks in the load-time methods a trusted class defines (or inherits from its library).
    Classes are trusted as classes, so this never drops one; it shows where a class's load runs native code."""
    out = []
    for method in LOAD_TIME_METHODS:
        owner = next((k for k in cls.__mro__ if method in k.__dict__), None)
        if owner is None or owner.__module__ == "builtins":
            continue
        function = getattr(owner.__dict__[method], "__func__", owner.__dict__[method])
        function = inspect.unwrap(function) if callable(function) else function
        if not inspect.isfunction(function):
            continue
        try:
            found = sinks_in(function)
        except (OSError, TypeError, SyntaxError):
            continue  # generated (dataclass, namedtuple) methods have no source: they only assign fields
        if found:
            out.append((symbol, method, f"{owner.__module__}.{owner.__qualname__}", found))
    return out


# --- the harvest and the files ----------------------------------------------------------------------------------

@dataclass
class Harvest:
    uses: dict = field(default_factory=dict)          # (module, name) -> set of uses, over everything
    named_by: dict = field(default_factory=dict)      # (module, name) -> set of group stems whose objects named it
    examples: dict = field(default_factory=dict)      # (module, name) -> the first objects that named it
    objects: dict = field(default_factory=dict)       # library name -> objects pickled
    skipped: dict = field(default_factory=dict)       # library name -> {label: why}
    versions: dict = field(default_factory=dict)      # distribution -> version
    missing: dict = field(default_factory=dict)       # library name -> why
    seconds: dict = field(default_factory=dict)


def version_of(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def harvest(groups=GROUPS, verbose=False) -> Harvest:
    result = Harvest()
    warnings.simplefilter("ignore")
    for group in groups:
        for library in group.libraries:
            try:
                importlib.import_module(library.module)
            except ImportError as error:
                result.missing[library.name] = f"{type(error).__name__}: {error}"
                continue
            result.versions[library.distribution] = version_of(library.distribution)
            started = time.monotonic()
            tally = Tally()
            for label, obj in library.writer(tally):
                uses = {}
                try:
                    for protocol in PROTOCOLS:
                        for data in (torch_pickles(obj, protocol) if library.torch_save
                                     else [pickle.dumps(obj, protocol=protocol)]):
                            pickle_globals(data, uses)
                except Exception as error:  # noqa: BLE001 - the library's own object does not pickle
                    tally.skip(f"{label} (pickle)", error)
                    continue
                tally.pickled += 1
                for symbol, how in uses.items():
                    result.uses.setdefault(symbol, set()).update(how)
                    result.named_by.setdefault(symbol, set()).add(group.stem)
                    examples = result.examples.setdefault(symbol, [])
                    if len(examples) < 3:
                        examples.append(f"{library.name}: {label}")
            result.objects[library.name] = tally.pickled
            result.skipped[library.name] = tally.skipped
            result.seconds[library.name] = time.monotonic() - started
            if verbose:
                print(f"{library.name}: {tally.pickled} objects pickled, {len(tally.skipped)} skipped, "
                      f"{result.seconds[library.name]:.1f} s", file=sys.stderr)
                for label, why in sorted(tally.skipped.items()):
                    print(f"    skipped {label}: {why}", file=sys.stderr)
        for distribution in group.extra:
            result.versions.setdefault(distribution, version_of(distribution))
    return result


@dataclass
class Plan:
    """What goes into each file, and what was left out and why."""
    tables: dict = field(default_factory=dict)        # stem -> {(area, effects): [symbol]}
    needs: dict = field(default_factory=dict)         # stem -> set of other stems its objects need
    stdlib: dict = field(default_factory=dict)        # symbol -> sorted uses (never trusted)
    stdlib_by: dict = field(default_factory=dict)     # stem -> [symbol]
    allowlist_conflicts: dict = field(default_factory=dict)  # symbol -> (uses, allowed)
    denied: list = field(default_factory=list)
    unresolved: dict = field(default_factory=dict)
    reviews: list = field(default_factory=list)
    dropped: list = field(default_factory=list)
    excluded: dict = field(default_factory=dict)      # symbol -> why (NOT_TRUSTED)
    class_reviews: list = field(default_factory=list)  # (symbol, method, defined in, findings)


def _effects(obj, uses: set) -> tuple:
    if is_class(obj) or "call" in uses:
        return FULL + (("mutate",) if "mutate" in uses else ())
    return ("reference",)


def plan(result: Harvest) -> Plan:
    out = Plan()
    allowed = allowlisted()
    groups = {g.stem: g for g in GROUPS}
    for symbol in sorted(result.uses):
        dotted = f"{symbol[0]}.{symbol[1]}"
        uses = result.uses[symbol]
        if dotted in allowed:
            if not uses <= allowed[dotted]:
                out.allowlist_conflicts[dotted] = (sorted(uses), sorted(allowed[dotted]))
            continue
        if symbol[0].split(".")[0] in STDLIB:
            out.stdlib[dotted] = sorted(uses)
            for stem in result.named_by[symbol]:
                out.stdlib_by.setdefault(stem, []).append(dotted)
            continue
        if denied(dotted):
            out.denied.append(dotted)
            continue
        try:
            obj = resolve(symbol)
        except Exception as error:  # noqa: BLE001
            out.unresolved[dotted] = f"{type(error).__name__}: {error}"
            continue
        if dotted in NOT_TRUSTED:
            out.excluded[dotted] = NOT_TRUSTED[dotted]
            continue
        if is_class(obj):
            out.class_reviews += review_class(dotted, obj)
        else:
            review = review_function(dotted, obj, "call" in uses)
            out.reviews.append(review)
            if review.verdict == "FAIL":
                out.dropped.append(dotted)
                continue
        owner = owner_of(symbol)
        stems = [owner] if owner else sorted(result.named_by[symbol])
        for stem in stems:
            area = next((what for prefix, what in groups[stem].areas
                         if dotted == prefix or dotted.startswith(prefix + ".")), None)
            if area is None:
                area = f"{symbol[0].split('.')[0]} objects that these objects hold"
            out.tables.setdefault(stem, {}).setdefault((area, _effects(obj, uses)), []).append(dotted)
        for stem in result.named_by[symbol]:
            if owner and owner != stem:
                out.needs.setdefault(stem, set()).add(owner)
    return out


_EFFECTS_PHRASE = {
    FULL: "classes and the reconstruction functions they need",
    FULL + ("mutate",): "dict and list subclasses, which also receive their items",
    ("reference",): "functions and values stored as attributes, named but never called on load",
}


def render(group: Group, result: Harvest, layout: Plan) -> str:
    policy = f"trust-{group.stem}"
    installed = [lib for lib in group.libraries if lib.name not in result.missing]
    versions = ", ".join(f"{lib.name} {result.versions[lib.distribution]}" for lib in installed)
    extra = ", ".join(f"{d} {result.versions[d]}" for d in group.extra if d in result.versions)
    lines = [
        f"# GENERATED by scripts/generate_trust_policies.py from the installed libraries: do not edit by hand.",
        f"# After upgrading a library run `python3 scripts/generate_trust_policies.py --write` and review the diff;",
        f"# tests/e2e/test_trust_policies.py runs --check.",
        f"#",
        f"# {group.title}:",
        f"# `picklewall scan --trust {group.stem}` (compiled in) or `--policy policies/trust/{group.stem}.toml`.",
        f"# Generated from {versions}" + (f" (with {extra})" if extra else "") +
        f", Python {sys.version_info.major}.{sys.version_info.minor}.",
    ]
    for lib in group.libraries:
        if lib.name in result.missing:
            lines.append(f"# {lib.name} was not installed: its objects are not covered.")
            continue
        described = f"{result.objects[lib.name]} {lib.name} objects pickled ({lib.described}) with "
        described += ("torch.save, pickle protocols " if lib.torch_save else "pickle protocols ")
        described += f"{', '.join(map(str, PROTOCOLS))}; {len(result.skipped[lib.name])} candidates could not be " \
                     f"built, fitted or pickled with simple arguments."
        lines += ["# " + line for line in textwrap.wrap(described, 110)]
    notes = ("Only the classes those pickles name and the reconstruction functions the classes need are listed, as "
             "exact symbols, never module trees: a library's other functions (file and network helpers, test "
             "utilities, hook installers) stay untrusted. Every listed function was reviewed: its own body reaches "
             "no exec/eval/compile, import by name, process, file, socket, pickle/marshal load or ctypes. Symbols "
             "the data allowlist already admits are not repeated; standard-library globals are never trusted here.")
    lines += ["#"] + ["# " + line for line in textwrap.wrap(notes, 110)]
    needs = sorted(layout.needs.get(group.stem, ()))
    if needs:
        lines.append("# These objects also name symbols of: " + ", ".join(f"trust-{n}" for n in needs) +
                     f" (use --trust {' --trust '.join(needs)} too).")
    stdlib = sorted(layout.stdlib_by.get(group.stem, ()))
    if stdlib:
        text = ("Standard-library globals some of these objects name, not trusted (a pickle naming one is not safe "
                "under this policy): " + ", ".join(stdlib) + ".")
        lines += ["# " + line for line in textwrap.wrap(text, 110)]
    lines += ["", "[policy]", f'name = "{policy}"', 'version = "2"']
    tables = layout.tables.get(group.stem, {})
    order = {what: i for i, (_, what) in enumerate(group.areas)}
    for (area, effects) in sorted(tables, key=lambda k: (order.get(k[0], len(order)), k[0], len(k[1]) == 1, k[1])):
        symbols = sorted(set(tables[(area, effects)]))
        lines += ["", "[[trust]]",
                  f'reason = "{area}: {_EFFECTS_PHRASE[effects]} (generated; trusted by opt-in policy)"',
                  "effects = [" + ", ".join(f'"{e}"' for e in effects) + "]",
                  "symbols = ["] + [f'  "{s}",' for s in symbols] + ["]"]
    return "\n".join(lines) + "\n"


def print_review(result: Harvest, layout: Plan, out=sys.stdout) -> None:
    print("== objects pickled", file=out)
    for name, count in result.objects.items():
        print(f"  {name}: {count} pickled, {len(result.skipped[name])} skipped, {result.seconds[name]:.1f} s", file=out)
    for name, why in result.missing.items():
        print(f"  {name}: not installed ({why})", file=out)
    print("== function review (each trusted symbol that is not a class)", file=out)
    for review in layout.reviews:
        note = f"  [calls what the pickle passes: {', '.join(review.calls_parameters)}]" if review.calls_parameters else ""
        print(f"  {review.verdict:18} {review.symbol}: {review.detail}{note}", file=out)
    print(f"== dropped after review: {layout.dropped or 'none'}", file=out)
    print("== standard-library globals found, not trusted", file=out)
    for symbol, uses in layout.stdlib.items():
        by = sorted(stem for stem, symbols in layout.stdlib_by.items() if symbol in symbols)
        examples = "; ".join(result.examples[tuple(symbol.split(".", 1))] if tuple(symbol.split(".", 1)) in result.examples
                             else [])
        print(f"  {symbol} ({', '.join(uses)}) named by objects of: {', '.join(by)} (e.g. {examples})", file=out)
    if layout.allowlist_conflicts:
        print("== allowlisted, but used beyond the allowed effects (trust cannot help)", file=out)
        for symbol, (uses, allowed) in layout.allowlist_conflicts.items():
            print(f"  {symbol}: used {uses}, allowed {allowed}", file=out)
    print("== class review, for information: sinks in load-time methods of trusted classes", file=out)
    seen = set()
    for symbol, method, owner, found in layout.class_reviews:
        if (owner, method) in seen:
            continue
        seen.add((owner, method))
        users = sorted(s for s, m, o, _ in layout.class_reviews if o == owner and m == method)
        print(f"  {owner}.{method} (trusted as {', '.join(users)}): {'; '.join(sorted(set(f.split(' (line')[0] for f in found)))}",
              file=out)
    for symbol, why in layout.excluded.items():
        print(f"== pickled by real writers but not trusted: {symbol}: {why}", file=out)
    if layout.denied:
        print(f"== on the dangerous list, not trusted: {layout.denied}", file=out)
    if layout.unresolved:
        print(f"== could not be resolved, not trusted: {layout.unresolved}", file=out)


def quiet_environment() -> None:
    """Before any library is imported: tiny objects gain nothing from threads (and the machine is shared), and
    nothing may reach the network."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv=None) -> int:
    quiet_environment()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 and print the diff when a file is stale")
    mode.add_argument("--write", action="store_true", help="rewrite policies/trust/*.toml")
    parser.add_argument("--review", action="store_true", help="print the function review and the stdlib globals")
    parser.add_argument("--verbose", action="store_true", help="print per-library timings and skipped candidates")
    arguments = parser.parse_args(argv)

    result = harvest(verbose=arguments.verbose)
    layout = plan(result)
    if arguments.review:
        print_review(result, layout)
    stale = 0
    for group in GROUPS:
        path = TRUST_DIR / f"{group.stem}.toml"
        if all(lib.name in result.missing for lib in group.libraries):
            print(f"{path.relative_to(ROOT)}: skipped, {' / '.join(lib.name for lib in group.libraries)} not "
                  f"installed", file=sys.stderr)
            continue
        text = render(group, result, layout)
        current = path.read_text() if path.exists() else ""
        if text == current:
            continue
        if arguments.write:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
        else:
            stale += 1
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                                       f"{path.relative_to(ROOT)} (committed)",
                                                       f"{path.relative_to(ROOT)} (generated)"))
    if stale:
        print(f"{stale} trust polic{'y is' if stale == 1 else 'ies are'} stale: run "
              f"python3 scripts/generate_trust_policies.py --write and review the diff", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
