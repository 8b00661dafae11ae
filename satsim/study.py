"""One way to write a study: parameters, ``run``, a :class:`StudyResult`, a CLI.

A study is a module (``studies/NAME.py``) defining

* ``TITLE`` and a module docstring (the report's introduction to the study);
* ``Params`` — a dataclass whose defaults are the *quick* scale used by the report;
  ``FULL`` (and ``TEST``) — dicts of overrides for ``--scale full`` (the published
  scale) and ``--scale test`` (tiny, for the test suite);
* ``REQUIRES`` — names of studies whose findings it consumes (optional);
* ``run(params, *, rng, requires) -> StudyResult``;
* ``main(argv=None)`` — ``return satsim.study.main(__name__, argv)``.

:func:`main` builds the study's command line from ``Params`` (one source of truth:
every field becomes ``--field-name``), plus ``--seed``, ``--scale`` and ``--out``.

A :class:`StudyResult` holds tidy tables (DataFrames), figure specifications
(:class:`FigureSpec`, drawn later by :mod:`satsim.plotting` from the tables),
findings (:class:`Finding`: a claim, expected and observed values, the test or CI
used, pass/fail) and provenance.  :meth:`StudyResult.save` writes
``DIR/NAME/result.json`` and ``DIR/NAME/tables/*.csv``, so reports re-render
without re-running and one study can read another's findings.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import inspect
import json
import math
import os
import platform
import subprocess
import sys
import time
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FigureSpec",
    "Finding",
    "StudyError",
    "StudyResult",
    "discover",
    "load_study",
    "main",
    "run_grid",
    "run_study",
    "study_params",
]

SCALES = ("test", "quick", "full")


class StudyError(ValueError):
    """A study cannot be found, configured or run."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Finding:
    """A checked claim: ``expected`` vs ``observed`` by ``method``; ``passed``."""

    id: str
    claim: str
    expected: Any
    observed: Any
    method: str
    passed: bool

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))


@dataclasses.dataclass(frozen=True, kw_only=True)
class FigureSpec:
    """What to draw, from which table: built by :func:`satsim.plotting.build`."""

    id: str
    kind: str  # line, scatter, hist, qq, heatmap, bar
    table: str
    x: str
    y: str
    title: str
    caption: str
    xlabel: str
    ylabel: str
    hue: str | None = None
    col: str | None = None
    options: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyResult:
    """Tables, figure specifications, findings and provenance of one study run."""

    name: str
    title: str
    description: str
    params: dict
    tables: dict[str, pd.DataFrame]
    figures: list[FigureSpec]
    findings: list[Finding]
    notes: list[str] = dataclasses.field(default_factory=list)
    #: names of tables shown in the report (the rest are exported only)
    display: list[str] = dataclasses.field(default_factory=list)
    provenance: dict = dataclasses.field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.findings)

    def findings_frame(self) -> pd.DataFrame:
        columns = ["id", "claim", "expected", "observed", "method", "passed"]
        return pd.DataFrame([f.to_dict() for f in self.findings],
                            columns=columns).assign(study=self.name)

    def to_frame(self) -> pd.DataFrame:
        """The findings as a tidy table."""
        return self.findings_frame()

    def finding(self, id: str) -> Finding:
        for f in self.findings:
            if f.id == id:
                return f
        raise KeyError(f"study {self.name!r} has no finding {id!r}")

    def save(self, out: str | os.PathLike) -> Path:
        """Write ``out/NAME/result.json`` and ``out/NAME/tables/*.csv``."""
        d = Path(out) / self.name
        (d / "tables").mkdir(parents=True, exist_ok=True)
        for key, frame in self.tables.items():
            tmp = d / "tables" / f".{key}.{os.getpid()}.tmp"
            frame.to_csv(tmp, index=False)
            os.replace(tmp, d / "tables" / f"{key}.csv")
        doc = {
            "name": self.name, "title": self.title, "description": self.description,
            "params": _jsonable(self.params), "figures": [f.to_dict() for f in self.figures],
            "findings": [f.to_dict() for f in self.findings], "notes": self.notes,
            "display": self.display, "provenance": _jsonable(self.provenance),
            "tables": sorted(self.tables),
        }
        tmp = d / f".result.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(doc, indent=2))
        os.replace(tmp, d / "result.json")
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike) -> StudyResult:
        d = Path(directory)
        try:
            doc = json.loads((d / "result.json").read_text())
        except FileNotFoundError:
            raise StudyError(f"no saved study result in {str(d)!r}") from None
        except json.JSONDecodeError as exc:
            raise StudyError(f"{str(d / 'result.json')!r} is not valid JSON: {exc}") from None
        tables = {k: pd.read_csv(d / "tables" / f"{k}.csv") for k in doc["tables"]}
        return cls(name=doc["name"], title=doc["title"], description=doc["description"],
                   params=doc["params"], tables=tables,
                   figures=[FigureSpec(**f) for f in doc["figures"]],
                   findings=[Finding(**f) for f in doc["findings"]], notes=doc["notes"],
                   display=doc.get("display", []), provenance=doc["provenance"])


def run_grid(cell, grid, *, rng: np.random.Generator, workdir: str | None = None,
             executor: Any = "serial") -> list[dict]:
    """Run a study's grid on :mod:`satsim.sweep` and return the cells' records (parameters
    merged with results) in grid order.  ``workdir`` keeps a resumable store (default:
    a temporary directory); the root seed is drawn from ``rng``."""
    import tempfile

    from satsim import sweep

    root = int(rng.integers(2**63))
    module = sys.modules.get(getattr(cell, "__module__", ""), None)
    if executor != "serial" and module is not None and module.__name__.startswith(
            "satsim_study_"):
        if executor == "process":
            raise StudyError(f"study module {module.__name__} was loaded from a file that is "
                             "not importable as studies.NAME, so worker processes cannot run "
                             "its cells; use --executor serial")
        try:  # Dask pickles with cloudpickle: ship the study's code by value
            import cloudpickle

            cloudpickle.register_pickle_by_value(module)
        except (ImportError, ValueError):
            pass
    elif executor not in ("serial", "process") and module is not None and \
            module.__name__.startswith("studies."):
        try:  # remote Dask workers need not have the studies directory on their path
            import cloudpickle

            cloudpickle.register_pickle_by_value(module)
        except (ImportError, ValueError):
            pass
    with tempfile.TemporaryDirectory() as tmp:
        out = workdir or tmp
        sweep.run(cell, grid, out=out, root_seed=root, executor=executor)
        table = sweep.results(out)
    table = table[table.key.isin({c.key for c in grid})]  # ignore cells of other grids
    failed = table[table.status != "done"]
    if len(failed):
        raise StudyError(f"{len(failed)} sweep cell(s) failed; first error: "
                         f"{failed.error.dropna().iloc[0] if 'error' in failed else '?'}")
    records = {r["key"]: r for r in table.to_dict("records")}
    return [records[c.key] for c in grid]


# --------------------------------------------------------------------------- discovery
def _study_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("SATSIM_STUDIES"):
        dirs.append(Path(os.environ["SATSIM_STUDIES"]))
    dirs.append(Path.cwd() / "studies")
    dirs.append(Path(__file__).resolve().parents[1] / "studies")
    return dirs


def discover() -> dict[str, Path]:
    """Study name → script path (``$SATSIM_STUDIES``, ``./studies``, the checkout's)."""
    found: dict[str, Path] = {}
    for d in _study_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.py")):
                if p.name.startswith("_"):
                    continue
                head = p.read_text(errors="replace")
                # a study defines Params and run(); helper modules are skipped
                if "class Params" in head and "def run(" in head:
                    found.setdefault(p.stem, p)
    return found


_MODULES: dict[str, types.ModuleType] = {}


def load_study(name: str) -> types.ModuleType:
    """Import a study module by name."""
    if name in _MODULES:
        return _MODULES[name]
    if name in sys.modules and hasattr(sys.modules[name], "Params"):
        return sys.modules[name]
    studies = discover()
    if name not in studies:
        known = ", ".join(studies) or "none found"
        raise StudyError(f"unknown study {name!r}; known studies: {known}")
    module = _import_as_package(name, studies[name])
    if module is None:  # another `studies` package shadows ours: load from the file
        spec = importlib.util.spec_from_file_location(f"satsim_study_{name}", studies[name])
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses resolve annotations through it
        try:
            spec.loader.exec_module(module)
        except Exception:
            sys.modules.pop(spec.name, None)
            raise
    for attr in ("Params", "run", "TITLE"):
        if not hasattr(module, attr):
            raise StudyError(f"study {name!r} ({studies[name]}) does not define {attr}")
    _MODULES[name] = module
    return module


def _import_as_package(name: str, path: Path) -> types.ModuleType | None:
    """Import ``studies.NAME`` (a namespace package) so that functions defined in a
    study pickle by reference and worker processes (process pools, Dask) can import
    them: the studies directory's parent goes on ``sys.path``, which workers inherit."""
    root = str(path.parent.parent.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(f"studies.{name}")
    except ImportError:
        return None
    if Path(module.__file__).resolve() != path.resolve():
        return None
    return module


def study_params(module: types.ModuleType, scale: str = "quick", **overrides):
    """The study's ``Params`` at ``scale`` with ``overrides`` applied."""
    if scale not in SCALES:
        raise StudyError(f"`scale` must be one of {', '.join(map(repr, SCALES))}; got {scale!r}")
    values = {}
    if scale == "full":
        values.update(getattr(module, "FULL", {}))
    elif scale == "test":
        values.update(getattr(module, "TEST", {}))
    values.update({k: v for k, v in overrides.items() if v is not None})
    names = {f.name for f in dataclasses.fields(module.Params)}
    unknown = set(values) - names
    if unknown:
        raise StudyError(f"unknown parameter(s) {sorted(unknown)}; {module.TITLE!r} takes "
                         f"{sorted(names)}")
    return module.Params(**values)


def _git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[1], timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _provenance(name, params, seed, scale, wall) -> dict:
    import scipy

    import satsim

    return {
        "study": name, "scale": scale, "seed": seed,
        "params": dataclasses.asdict(params), "satsim": satsim.__version__,
        "numpy": np.__version__, "scipy": scipy.__version__, "pandas": pd.__version__,
        "python": platform.python_version(), "machine": platform.machine(),
        "platform": platform.platform(), "cpus": os.cpu_count(),
        "git_revision": _git_revision(), "wall_time_s": wall,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run_study(name: str, *, scale: str = "quick", seed: int = 0,
              out: str | os.PathLike | None = None, reuse: bool = False,
              overrides: dict | None = None, executor: Any = None,
              _stack: tuple[str, ...] = ()) -> StudyResult:
    """Run (or, with ``reuse``, load a matching saved) study and its requirements."""
    module = load_study(name)
    params = study_params(module, scale, **(overrides or {}))
    if out is not None and reuse:
        saved = Path(out) / name / "result.json"
        if saved.is_file():
            try:
                res = StudyResult.load(saved.parent)
                prov = res.provenance
                if (prov.get("seed") == seed and prov.get("scale") == scale
                        and res.params == _jsonable(dataclasses.asdict(params))):
                    return res
            except (StudyError, KeyError, TypeError, ValueError):
                pass  # unreadable or stale: run again
    if name in _stack:
        raise StudyError(f"circular study requirements: {' -> '.join((*_stack, name))}")
    requires = {}
    for req in getattr(module, "REQUIRES", ()):
        requires[req] = run_study(req, scale=scale, seed=seed, out=out, reuse=True,
                                  executor=executor, _stack=(*_stack, name))
    # each study's stream: from (seed, study name), independent of run order
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_key(name),)))
    start = time.perf_counter()
    kwargs = {}
    if out is not None and "workdir" in inspect.signature(module.run).parameters:
        # studies whose grids run on satsim.sweep keep a resumable store here
        import satsim

        kwargs["workdir"] = str(Path(out) / name /
                                f"sweep-{scale}-seed{seed}-v{satsim.__version__}")
    if executor is not None and "executor" in inspect.signature(module.run).parameters:
        kwargs["executor"] = executor
    result = module.run(params, rng=rng, requires=requires, **kwargs)
    result = dataclasses.replace(
        result, params=_jsonable(dataclasses.asdict(params)),
        provenance=_provenance(name, params, seed, scale, time.perf_counter() - start))
    if out is not None:
        result.save(out)
    return result


def _key(name: str) -> int:
    """A 64-bit word from the whole study name (distinct names, distinct streams)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


# --------------------------------------------------------------------------- CLI
def _field_type(field: dataclasses.Field, module) -> Any:
    hints = typing.get_type_hints(module.Params)
    tp = hints.get(field.name, str)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        tp = args[0]  # Optional[X] → X
    return tp


def _add_param_options(parser: argparse.ArgumentParser, module) -> None:
    for field in dataclasses.fields(module.Params):
        tp = _field_type(field, module)
        flag = "--" + field.name.replace("_", "-")
        origin = typing.get_origin(tp)
        if tp is bool:
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction,
                                default=None, help=f"default {field.default}")
        elif origin in (tuple, list) or tp in (tuple, list):
            args = typing.get_args(tp)
            inner = args[0] if args and args[0] is not Ellipsis else str
            parser.add_argument(flag, dest=field.name, nargs="+", type=inner, default=None,
                                help=f"default {' '.join(map(str, _default(field)))}")
        else:
            parser.add_argument(flag, dest=field.name, type=tp if tp in (int, float, str) else str,
                                default=None, help=f"default {_default(field)}")


def _default(field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def main(name: str, argv: Sequence[str] | None = None) -> int:
    """Command line of one study: options from ``Params``, ``--seed``, ``--scale``,
    ``--out``.  Errors: one line on stderr, exit code 2."""
    if name.startswith("satsim_study_"):
        name = name[len("satsim_study_"):]
    elif name.startswith("studies."):
        name = name[len("studies."):]
    elif name == "__main__":
        name = Path(sys.argv[0]).stem
    try:
        module = load_study(name)
    except StudyError as exc:
        sys.stderr.write(f"satsim: error: {exc}\n")
        return 2
    parser = argparse.ArgumentParser(prog=f"satsim run {name}", description=module.TITLE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", choices=SCALES, default="quick")
    parser.add_argument("--out", default="reports/studies")
    _add_param_options(parser, module)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(module.Params)}
    for key, value in overrides.items():
        if isinstance(value, list):
            overrides[key] = tuple(value)
    try:
        result = run_study(name, scale=args.scale, seed=args.seed, out=args.out,
                           overrides=overrides)
    except Exception as exc:  # one line for users; the traceback is for developers
        sys.stderr.write(f"satsim: error: {type(exc).__name__}: {exc}\n")
        return 2
    frame = result.findings_frame()[["id", "expected", "observed", "passed"]]
    print(f"{result.title} ({name}, scale={args.scale}, seed={args.seed}) -> "
          f"{Path(args.out) / name}")
    print(frame.to_string(index=False))
    return 0
