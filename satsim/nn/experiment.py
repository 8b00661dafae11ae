"""Training runs as sweep cells: ``train_cell(params, rng)`` for :mod:`satsim.sweep`.

A module-level function (so worker processes and Dask can import it) that trains one
:class:`~satsim.nn.network.Network` on a registered dataset and returns JSON
values: the per-epoch history (``history``), the per-layer telemetry (``layers``),
the final test accuracy and the data source.  Parameters (all JSON values):

``sizes`` (list), ``activation``, ``output``, ``cost``, ``init``, ``bias_init``,
``dataset`` (default "fashion-mnist"), ``train_size``, ``epochs``, ``batch_size``,
``eta``, ``lmbda``, ``regularization``, ``validate_on`` ("validation" or "test"),
``telemetry``, ``monitor_training``, ``probe_size``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from satsim._namespace import public_dir

if TYPE_CHECKING:
    from satsim.data import Dataset

__all__ = ["train_cell"]

__dir__ = public_dir(globals())


@functools.lru_cache(maxsize=4)
def _dataset(name: str) -> Dataset:
    from satsim import data

    return data.load(name)


def train_cell(params: dict, rng: np.random.Generator) -> dict:
    from satsim.nn.network import Network

    ds = _dataset(params.get("dataset", "fashion-mnist"))
    X, y = ds.train
    n = params.get("train_size")
    if n is not None:
        X, y = X[:n], y[:n]
    val = ds.validation if params.get("validate_on", "validation") == "validation" else ds.test
    if val is None:
        val = ds.test
    init_rng, fit_rng = rng.spawn(2)
    net = Network(params["sizes"], activation=params.get("activation", "sigmoid"),
                  output=params.get("output", "sigmoid"), cost=params.get("cost", "cross_entropy"),
                  init=params.get("init", "nielsen"),
                  bias_init=params.get("bias_init", "standard_normal"), rng=init_rng)
    h = net.fit(X, y, epochs=params["epochs"], batch_size=params.get("batch_size", 10),
                eta=params["eta"], lmbda=params.get("lmbda", 0.0),
                regularization=params.get("regularization", "l2"), validation=val,
                telemetry=params.get("telemetry", True),
                monitor_training=params.get("monitor_training", False),
                probe_size=params.get("probe_size", 1000), rng=fit_rng)
    epochs = h.epochs_frame().drop(columns=["wall_time"])
    layers = pd.DataFrame(h.layers)
    return {"history": epochs.to_dict("records"), "layers": layers.to_dict("records"),
            "test_accuracy": net.accuracy(*ds.test), "source": ds.source}
