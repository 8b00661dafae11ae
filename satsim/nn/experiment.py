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
    """Train one :class:`~satsim.nn.network.Network` on a registered dataset (a sweep cell).

    The network is built with ``rng``'s first spawned stream and trained by
    :meth:`~satsim.nn.network.Network.fit` with the second, so a cell's result depends
    on its seed alone.

    Parameters
    ----------
    params : dict
        JSON values.  Required: ``sizes`` (layer widths, input first), ``epochs``,
        ``eta``.  Optional, with their defaults: ``activation`` ("sigmoid"), ``output``
        ("sigmoid"), ``cost`` ("cross_entropy"), ``init`` ("nielsen"), ``bias_init``
        ("standard_normal"), ``dataset`` ("fashion-mnist", loaded by
        :func:`satsim.data.load`), ``train_size`` (all rows: the first ``train_size``
        training rows otherwise), ``batch_size`` (10), ``lmbda`` (0),
        ``regularization`` ("l2"), ``validate_on`` ("validation", or "test"; the test
        set when the dataset has no validation part), ``telemetry`` (True),
        ``monitor_training`` (False), ``probe_size`` (1000).
    rng : numpy.random.Generator
        The cell's generator (from :mod:`satsim.sweep`).

    Returns
    -------
    dict
        ``history`` (one record per epoch: ``epoch``, ``eta``, costs and accuracies),
        ``layers`` (one record per epoch and layer of telemetry), ``test_accuracy``
        (float, on the dataset's test part) and ``source`` (where the data came from).

    Raises
    ------
    KeyError
        ``params`` lacks ``sizes``, ``epochs`` or ``eta``.
    ValueError
        As :class:`~satsim.nn.network.Network` and its ``fit`` for invalid values, or
        :func:`satsim.data.load` for an unknown dataset.
    """
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
