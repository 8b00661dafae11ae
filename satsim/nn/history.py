"""What :meth:`satsim.nn.Network.fit` records: the frozen :class:`History` and the
private recorder that fills it while training runs.

``History`` is re-exported from :mod:`satsim.nn` and :mod:`satsim.nn.network`, where
it was defined before; both imports keep working.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from satsim._namespace import public_dir
from satsim._results import Plottable

__all__ = ["History"]

__dir__ = public_dir(globals())


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class History(Plottable):
    """What happened during :meth:`Network.fit` (frozen, like the other results).

    ``epochs`` holds one dict per epoch (epoch 0 = before training) with the
    network-level metrics; ``layers`` one dict per epoch and layer (telemetry).
    ``.plot()`` draws accuracy, cost and saturation per epoch.
    """

    epochs: tuple[dict, ...] = ()
    layers: tuple[dict, ...] = ()
    stopped_early: bool = False
    stop_reason: str = ""

    def __repr__(self) -> str:
        e = self.epochs_frame()
        last = e.iloc[-1].to_dict() if len(e) else {}
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in last.items() if k != "wall_time")
        stop = f"; stopped early: {self.stop_reason}" if self.stopped_early else ""
        return (f"<History: {max(len(e) - 1, 0)} epochs, {len(self.layers)} layer "
                f"records{stop}>\nlast epoch: {shown}")

    def _repr_html_(self) -> str:
        return self.epochs_frame().to_html(index=False, float_format=lambda v: f"{v:.4g}",
                                           border=0)

    def epochs_frame(self) -> pd.DataFrame:
        """One row per epoch: ``epoch``, ``eta``, ``train_cost``, ``train_accuracy``,
        ``validation_cost``, ``validation_accuracy``, ``wall_time`` (cumulative s)."""
        return pd.DataFrame(self.epochs)

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per epoch and layer (the epoch columns repeated), or one row
        per epoch when telemetry was off."""
        epochs = self.epochs_frame()
        if not self.layers:
            return epochs
        return epochs.merge(pd.DataFrame(self.layers), on="epoch", how="left")

    def __str__(self) -> str:
        return self.epochs_frame().to_string(index=False, float_format=lambda v: f"{v:.4g}")


class _Recorder:
    """What :meth:`Network.fit` collects while it runs; :meth:`result` freezes it."""

    def __init__(self) -> None:
        self.epochs: list[dict] = []
        self.layers: list[dict] = []
        self.stopped_early = False
        self.stop_reason = ""

    def result(self) -> History:
        return History(epochs=tuple(self.epochs), layers=tuple(self.layers),
                       stopped_early=self.stopped_early, stop_reason=self.stop_reason)
