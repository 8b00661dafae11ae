"""Cell functions for tests/test_sweep.py (importable by worker processes)."""

import time

import numpy as np


def cell(params, rng):
    x = rng.standard_normal(params["n"])
    return {"mean": float(x.mean()), "a2": params["a"] * 2, "first": float(x[0])}


def slow_cell(params, rng):
    time.sleep(params.get("sleep", 0.05))
    return {"value": float(rng.random()), "i": params["i"]}


def flaky_cell(params, rng):
    if params["i"] % 3 == 0:
        raise RuntimeError(f"cell {params['i']} fails on purpose")
    return {"value": float(rng.random())}


def big_cell(params, rng):
    return {"payload": rng.random(400).tolist()}


def busy_cell(params, rng):
    """~params['seconds'] of numpy work."""
    end = time.perf_counter() + params["seconds"]
    x = np.zeros(1000)
    while time.perf_counter() < end:
        x += rng.standard_normal(1000)
    return {"norm": float(np.linalg.norm(x))}


def noop_cell(params, rng):
    return {"i": params["i"]}


def nan_cell(params, rng):
    return {"values": [1.0, float("nan"), float("inf")], "x": float("nan")}


def interrupt_cell(params, rng):
    if params["i"] == 2:
        raise KeyboardInterrupt
    return {"i": params["i"]}
