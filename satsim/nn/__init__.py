"""The NumPy training engine: :class:`Network`, its :class:`History`, costs and I/O.

See :mod:`satsim.nn.network` for the maths and conventions.
"""

from satsim._namespace import public_dir
from satsim.nn.costs import COSTS, CrossEntropyCost, LogLikelihoodCost, QuadraticCost
from satsim.nn.network import History, Network, Softmax

__all__ = [
    "COSTS",
    "CrossEntropyCost",
    "History",
    "LogLikelihoodCost",
    "Network",
    "QuadraticCost",
    "Softmax",
]

__dir__ = public_dir(globals())
