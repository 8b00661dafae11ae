"""Findings and study results: what a study returns, saves and reloads
(see :mod:`satsim.study`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from satsim._atomic import atomic_write, replace_directory
from satsim.study import _discovery

SCALES = ("test", "quick", "full")
StudyInfo = _discovery.StudyInfo




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
    """A checked claim: ``expected`` vs ``observed`` by ``method``.

    ``passed`` is True or False, or None when the data cannot decide the claim (one
    seed for a paired test, a NaN p-value); ``observed`` then says why
    (e.g. ``"undecided: needs ≥ 2 seeds"``).
    """

    id: str
    claim: str
    expected: Any
    observed: Any
    method: str
    passed: bool | None

    @property
    def verdict(self) -> str:
        return "undecided" if self.passed is None else ("pass" if self.passed else "fail")

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyResult:
    """Tables, figure specifications, findings, exports and provenance of one study run.

    ``params`` are the parameters the study ran with (set by the study itself);
    ``exports`` the named values (JSON) and tables (DataFrames) other studies may read.
    """

    name: str
    title: str
    description: str
    params: dict
    tables: dict[str, pd.DataFrame]
    #: typed figures (:mod:`satsim.plotting`), drawn from ``tables`` when rendered
    figures: list[Any]
    findings: list[Finding]
    notes: list[str] = dataclasses.field(default_factory=list)
    #: names of tables shown in the report (the rest are exported only)
    display: list[str] = dataclasses.field(default_factory=list)
    exports: dict[str, Any] = dataclasses.field(default_factory=dict)
    provenance: dict = dataclasses.field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """No finding failed (undecided ones do not count as failures)."""
        return all(f.passed is not False for f in self.findings)

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

    def __repr__(self) -> str:
        counts = {v: sum(f.verdict == v for f in self.findings)
                  for v in ("pass", "fail", "undecided")}
        return (f"<StudyResult {self.name}: {len(self.findings)} findings "
                f"({counts['pass']} pass, {counts['fail']} fail, {counts['undecided']} "
                f"undecided), tables {sorted(self.tables)}>")

    def save(self, out: str | os.PathLike) -> Path:
        """Write ``out/NAME/result/`` (``result.json``, ``tables/*.csv``) as one unit.

        Everything is written into a hidden sibling directory first and moved into
        place at the end (:func:`satsim._atomic.replace_directory`), so a save that
        fails part-way (full disk, kill) never leaves a mix of two runs.
        """
        home = Path(out) / self.name
        home.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=".result.", dir=home))
        try:
            (build / "tables").mkdir()
            tables: dict[str, str] = {}
            frames = dict(self.tables)
            export_tables = []
            exports = {}
            for key, value in self.exports.items():
                if isinstance(value, pd.DataFrame):
                    frames[f"export.{key}"] = value
                    export_tables.append(key)
                else:
                    exports[key] = _jsonable(value)
            for key, frame in frames.items():
                path = build / "tables" / f"{key}.csv"
                atomic_write(path, frame.to_csv(index=False))
                tables[key] = _sha256(path)
            doc = {
                "format": "satsim.study", "format_version": 3,
                "name": self.name, "title": self.title, "description": self.description,
                "params": _jsonable(self.params),
                "figures": [_jsonable(f.to_dict()) for f in self.figures],
                "findings": [f.to_dict() for f in self.findings], "notes": self.notes,
                "display": self.display, "provenance": _jsonable(self.provenance),
                "exports": exports, "export_tables": export_tables, "tables": tables,
            }
            atomic_write(build / "result.json", json.dumps(doc, indent=2))
            os.chmod(build, 0o755)
            replace_directory(build, home / "result")
        finally:
            if build.exists():
                import shutil

                shutil.rmtree(build, ignore_errors=True)
        return home / "result"

    @classmethod
    def load(cls, directory: str | os.PathLike) -> StudyResult:
        """Read a result saved by :meth:`save` (``directory`` is ``out/NAME`` or
        ``out/NAME/result``).  Every table is checked against the SHA-256 recorded
        with it: a missing or damaged file is a :class:`StudyError`."""
        d = Path(directory)
        if not (d / "result.json").exists() and (d / "result" / "result.json").exists():
            d = d / "result"
        try:
            doc = json.loads((d / "result.json").read_text())
        except FileNotFoundError:
            raise StudyError(f"no saved study result in {str(d)!r}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StudyError(f"{str(d / 'result.json')!r} is not a readable result: "
                             f"{exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != "satsim.study":
            raise StudyError(f"{str(d / 'result.json')!r} is not a satsim study result")
        tables = {}
        for key, digest in doc["tables"].items():
            path = d / "tables" / f"{key}.csv"
            try:
                ok = _sha256(path) == digest
            except OSError:
                raise StudyError(f"table {key!r} of the saved result {str(d)!r} is "
                                 "missing") from None
            if not ok:
                raise StudyError(f"table {str(path)!r} is damaged (SHA-256 differs from "
                                 "the one saved with the result)")
            tables[key] = pd.read_csv(path)
        exports = dict(doc.get("exports", {}))
        from satsim.plotting import figure_from_dict  # matplotlib itself stays unimported

        for key in doc.get("export_tables", []):
            exports[key] = tables.pop(f"export.{key}")
        try:
            return cls(name=doc["name"], title=doc["title"], description=doc["description"],
                       params=doc["params"], tables=tables,
                       figures=[figure_from_dict(f) for f in doc["figures"]],
                       findings=[Finding(**f) for f in doc["findings"]], notes=doc["notes"],
                       display=doc.get("display", []), exports=exports,
                       provenance=doc["provenance"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StudyError(f"{str(d / 'result.json')!r} is incomplete: {exc}") from None
