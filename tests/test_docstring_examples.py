"""Every ``>>>`` example in satsim's docstrings runs and prints what it says (issue 21:
README and docstring examples pass as tests).  One test per module, so a failure names
the module; modules that need torch are skipped without it."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import satsim


def _modules() -> list[str]:
    names = ["satsim"]
    for info in pkgutil.walk_packages(satsim.__path__, prefix="satsim."):
        if ".studies" in info.name or info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return sorted(names)


def _has_examples(name: str) -> bool:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return True  # reported by the test (skipped when it is torch)
    finder = doctest.DocTestFinder()
    return any(t.examples for t in finder.find(module, name))


MODULES = [m for m in _modules() if _has_examples(m)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch, tmp_path):
    if "torch" in name:
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    module = importlib.import_module(name)
    with np.printoptions(legacy=False):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                                 verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    assert result.attempted > 0
