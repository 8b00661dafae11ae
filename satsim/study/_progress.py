"""One line per finished study when output is not a terminal (see
:mod:`satsim.study`)."""

from __future__ import annotations

import sys
from typing import Any


# --------------------------------------------------------------------------- progress
class StudyProgress:
    """Progress of a run: one line per finished study, and bars counted in sweep cells.

    Each study that finishes prints ``satsim: NAME done in 12.3 s (4/9)`` (or
    ``… reused the saved result (4/9)``) on ``stream`` — also when it is not a
    terminal (a log file, a pipe, CI); ``quiet`` silences it.  The bars (one per study,
    with its ETA) are drawn only on a terminal and not when ``quiet``.  The cell counts
    are kept in any case (the interrupt message reports them).
    """

    def __init__(self, *, quiet: bool = False, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.enabled = not quiet and getattr(self.stream, "isatty", lambda: False)()
        self._grids: dict[tuple[str, str], tuple[int, int]] = {}
        self._bars: dict[str, Any] = {}

    def study_done(self, study: str, seconds: float | None, index: int, total: int) -> None:
        """Say that ``study`` (the ``index``-th of ``total``) finished in ``seconds``
        (None: its saved result was reused)."""
        if self.quiet:
            return
        what = ("reused the saved result" if seconds is None
                else f"done in {seconds:.1f} s")
        line = f"satsim: {study} {what} ({index}/{total})"
        bar = self._bars.get(study)
        if bar is not None:
            bar.close()  # the finished bar stays above the line
        if self._bars:
            from tqdm.auto import tqdm

            tqdm.write(line, file=self.stream)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def __call__(self, study: str, grid: str, finished: int, total: int) -> None:
        self._grids[(study, grid)] = (finished, total)
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        done = sum(f for (s, _), (f, _t) in self._grids.items() if s == study)
        whole = sum(t for (s, _), (_f, t) in self._grids.items() if s == study)
        bar = self._bars.get(study)
        if bar is None:
            bar = self._bars[study] = tqdm(total=whole, initial=done, unit="cell",
                                           desc=study, file=self.stream, leave=True)
        bar.total = whole
        bar.n = done
        bar.refresh()
        if done >= whole:
            bar.close()

    @property
    def finished(self) -> int:
        return sum(f for f, _ in self._grids.values())

    @property
    def total(self) -> int:
        return sum(t for _, t in self._grids.values())

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()

    def interrupted_message(self) -> str:
        return (f"interrupted after {self.finished} of {self.total} cells; rerun the same "
                "command to resume")
