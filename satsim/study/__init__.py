"""One way to write a study: parameters, ``run(params, ctx)``, a :class:`StudyResult`.

A study is a module defining

* ``TITLE`` and a module docstring (the report's introduction to the study);
* ``Params`` — a dataclass whose defaults are the *quick* scale used by the report;
  ``FULL`` (and ``TEST``) — dicts of overrides for ``--scale full`` (the published
  scale) and ``--scale test`` (tiny, for the test suite);
* ``ORDER`` — a number placing it in ``satsim report`` (lower first; default: last);
* ``REQUIRES`` — names of studies whose exports it reads (optional);
* ``EXPORTS`` — ``{name: description}`` of the values and tables it hands to other
  studies (optional; the result's ``exports`` must match it);
* ``run(params, ctx) -> StudyResult`` with ctx a :class:`StudyContext`.

The built-in studies live in the package :mod:`satsim.studies` (the repository's
``studies/`` folder); others come from installed packages (entry-point group
``satsim.studies``) or a folder named with ``--studies DIR`` / ``$SATSIM_STUDIES``
(see :mod:`satsim.study._discovery`).  Each study is also a script:
``raise SystemExit(satsim.study.main(__file__))`` gives it the same command line as
``satsim run NAME`` (one generated parser for both: every ``Params`` field becomes
``--field-name``, plus ``--seed``, ``--scale``, ``-o/--out``, ``--quiet``, ``--jobs``,
``--executor``, ``--studies``).

The context carries the study's random stream (from the seed and the study's name),
the exports of its required studies (:meth:`StudyContext.export`), a resumable work
directory, the executor and a progress reporter; grids run on :mod:`satsim.sweep`
through :meth:`StudyContext.run_grid`, with their store under the output directory,
so an interrupted study resumes where it stopped.  On the command line the grids of
every study share one pool of ``--jobs`` worker processes (default: one per CPU; see
:func:`_cell_executor`); the cells' seeds come from the study's stream and the cell
keys, so results do not depend on where the cells ran.

A :class:`StudyResult` holds tidy tables, typed figures (:mod:`satsim.plotting`), findings
(:class:`Finding`: a claim, expected and observed values, the method, and a verdict —
passed, failed or undecided), exports and provenance.  :meth:`StudyResult.save`
writes ``DIR/NAME/result/`` (``result.json`` and ``tables/*.csv``) as one unit.
"""

from __future__ import annotations

from satsim._namespace import public_dir
from satsim.study._cli import (
    Terminated,
    build_parser,
    main,
)
from satsim.study._progress import (
    StudyProgress,
)
from satsim.study._result import (
    SCALES,
    Finding,
    StudyError,
    StudyInfo,
    StudyResult,
)
from satsim.study._run import (
    StudyContext,
    discover,
    discover_errors,
    environment,
    load_study,
    run_study,
    study_params,
)

__all__ = [
    "SCALES",
    "Finding",
    "StudyContext",
    "StudyError",
    "StudyInfo",
    "StudyProgress",
    "StudyResult",
    "Terminated",
    "build_parser",
    "discover",
    "discover_errors",
    "environment",
    "load_study",
    "main",
    "run_study",
    "study_params",
]
__dir__ = public_dir(globals())
