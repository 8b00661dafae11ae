"""The NumPy training engine: :class:`Network`, its :class:`History`, costs, I/O and the
data-dependent :class:`LSUV` initialization; :func:`train_stack` trains many
same-architecture networks as one stacked computation (NumPy or PyTorch,
:mod:`satsim.nn.batched`).

See :mod:`satsim.nn.network` for the maths and conventions; :class:`History` lives in
:mod:`satsim.nn.history` (also importable from :mod:`satsim.nn.network`, as before).
"""

from satsim._namespace import public_dir
from satsim.nn.batched import StackResult, train_stack
from satsim.nn.costs import COSTS, CrossEntropyCost, LogLikelihoodCost, QuadraticCost
from satsim.nn.history import History
from satsim.nn.lsuv import LSUV, LSUVResult
from satsim.nn.network import Network, Softmax

__all__ = [
    "COSTS",
    "LSUV",
    "CrossEntropyCost",
    "History",
    "LSUVResult",
    "LogLikelihoodCost",
    "Network",
    "QuadraticCost",
    "Softmax",
    "StackResult",
    "train_stack",
]

__dir__ = public_dir(globals())
