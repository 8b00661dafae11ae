"""Cell functions for tests/test_sweep.py (importable by worker processes)."""

import os
import signal
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


def deadly_cell(params, rng):
    """Kills its own process in the way params['how'] says ('ok' returns normally)."""
    how = params["how"]
    if how == "segv":
        import ctypes

        ctypes.string_at(0)  # a real segmentation fault
    elif how == "exit3":
        os._exit(3)
    elif how == "sigkill":  # what the out-of-memory killer does
        os.kill(os.getpid(), signal.SIGKILL)
    return {"value": float(rng.random()), "i": params["i"]}


def exit_on_cell(params, rng):
    """os._exit in the cell whose i is params['bad']; an ordinary result otherwise."""
    if params["i"] == params["bad"]:
        os._exit(1)
    return {"value": float(rng.random())}


def pid_cell(params, rng):
    return {"pid": os.getpid(), "setup": os.environ.get("SATSIM_TEST_SETUP", "")}


def record_setup(path):
    """worker_setup for the tests: note this worker's PID, mark the environment."""
    with open(path, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    os.environ["SATSIM_TEST_SETUP"] = "yes"


def failing_setup():
    raise RuntimeError("setup fails on purpose")


def load_module(name, path, marker=None):
    """worker_setup that imports a module from a file under ``name`` (like user studies,
    which are not importable by name); with ``marker``, also :func:`record_setup`."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if marker is not None:
        record_setup(marker)
    return module


def logged_cell(params, rng):
    """slow_cell that also appends "PID i" to params['log'] (to count computations)."""
    with open(params["log"], "a") as fh:
        fh.write(f"{os.getpid()} {params['i']}\n")
    time.sleep(params["sleep"])
    return {"value": float(rng.random())}


def many_cells(params_list, rngs):
    """A batched cell function: one draw per cell from its own generator; records the
    batch size so tests can see batches happened (the result never depends on it)."""
    if any(p.get("fail") for p in params_list):
        if len(params_list) > 1:
            raise RuntimeError("a cell of this batch fails")
        raise RuntimeError(f"cell {params_list[0]['i']} fails on purpose")
    MANY_CALLS.append(len(params_list))
    return [{"x": float(r.standard_normal()), "i": p["i"], "g": p["g"]}
            for p, r in zip(params_list, rngs, strict=True)]


MANY_CALLS: list[int] = []


def one_cell(params, rng):
    return {"x": float(rng.standard_normal()), "i": params["i"], "g": params["g"]}
