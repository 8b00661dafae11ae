"""One module ``__dir__`` for every public module (PEP 562).

A public module's namespace also holds what it imports (``np``, ``Any``, the shared
validators, the ``annotations`` feature flag …).  Those stay importable — nothing is
deleted — but ``dir(module)``, tab completion and ``help`` show the module's own
API: the names in ``__all__`` plus the dunder attributes every module has.  Each
public module ends its header with::

    __dir__ = public_dir(globals())

and ``tests/test_namespaces.py`` checks that ``dir()``, ``__all__`` and
``from module import *`` agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["public_dir"]


def public_dir(namespace: dict[str, Any]) -> Callable[[], list[str]]:
    """A PEP 562 ``__dir__`` listing ``namespace["__all__"]`` and the dunder names.

    ``namespace`` is the module's ``globals()``; it is read on every call, so names
    bound after the call (and a later change of ``__all__``) are seen.
    """

    def __dir__() -> list[str]:
        dunders = (n for n in namespace if n.startswith("__") and n.endswith("__"))
        return sorted({*namespace["__all__"], *dunders})

    return __dir__
