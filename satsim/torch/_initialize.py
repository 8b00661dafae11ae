r"""What :func:`satsim.torch.init_` draws, piece by piece, and what it leaves alone.

A *piece* is one weight matrix with its own fans:

* ``Linear``, ``Conv*``, ``ConvTranspose*``: the layer's ``weight`` (and ``bias``), fans
  from :func:`satsim.init.fans` — PyTorch's ``_calculate_fan_in_and_fan_out``;
* ``MultiheadAttention``: the query, key and value projections are three pieces.  With
  equal dimensions PyTorch stores them stacked as ``in_proj_weight`` of shape
  ``(3E, E)``; each third ``(E, E)`` is drawn on its own with fan_in = fan_out = E (a
  fan-based scheme applied to the stacked matrix would use fan_out = 3E and come out
  smaller for Glorot).  With ``kdim``/``vdim`` different from E they are
  ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim),
  fans (in, out) = (E, E), (kdim, E), (vdim, E).  The slices of ``in_proj_bias`` go
  with their projection.  The output projection ``out_proj`` is a ``Linear`` (above);
* ``Embedding``: ``weight`` of shape (num_embeddings, embedding_dim) with PyTorch's
  fans of that tensor, fan_in = embedding_dim and fan_out = num_embeddings (what
  ``nn.init.kaiming_normal_(emb.weight)`` uses).  The row ``padding_idx``, if any, is
  set back to zero as PyTorch's own ``reset_parameters`` does.

Everything else is left alone and listed with the reason in :class:`InitResult`:
normalization scales and shifts (PyTorch's 1 and 0), ``MultiheadAttention``'s
``bias_k``/``bias_v`` (``add_bias_kv``), and any parameter of a module satsim has no
fan convention for (a custom ``nn.Parameter``, a positional embedding tensor …).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from satsim import init as _init
from satsim._docstrings import fill
from satsim._results import Result, result
from satsim._validation import check_rng
from satsim.torch._capture import _LAYERS, _check_module

#: attributes :func:`init_` records the satsim initializers under
_WEIGHT_TAG, _BIAS_TAG = "_satsim_init", "_satsim_bias_init"
#: the attribute of the root module that holds the last :class:`InitResult`
_REPORT_TAG = "_satsim_init_report"
#: modules whose parameters :func:`init_` draws
_TARGETS = (*_LAYERS, nn.MultiheadAttention, nn.Embedding)
_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)


@dataclass
class _Piece:
    """One weight matrix (possibly a slice of a stacked parameter) and its bias."""

    label: str               # e.g. "self_attn.in_proj_weight[q]"
    weight: nn.Parameter
    rows: slice | None        # rows of ``weight`` (and ``bias``) this piece owns
    shape: tuple[int, ...]    # the piece's own shape, which sets its fans
    bias: nn.Parameter | None
    bias_label: str | None
    bias_rows: slice | None = None  # rows of ``bias`` this piece owns (None: all)


def _pieces(name: str, m: nn.Module) -> list[_Piece]:
    pre = f"{name}." if name else ""
    if isinstance(m, nn.MultiheadAttention):
        e = m.embed_dim
        bias = m.in_proj_bias
        if m._qkv_same_embed_dim:
            return [_Piece(f"{pre}in_proj_weight[{p}]", m.in_proj_weight,
                           slice(j * e, (j + 1) * e), (e, e), bias,
                           None if bias is None else f"{pre}in_proj_bias[{p}]",
                           slice(j * e, (j + 1) * e))
                    for j, p in enumerate("qkv")]
        sep: list[nn.Parameter] = [m.q_proj_weight, m.k_proj_weight, m.v_proj_weight]
        return [_Piece(f"{pre}{p}_proj_weight", sep[j], None, tuple(sep[j].shape), bias,
                       None if bias is None else f"{pre}in_proj_bias[{p}]",
                       slice(j * e, (j + 1) * e))
                for j, p in enumerate("qkv")]
    layer: Any = m  # Linear, Conv*, ConvTranspose* or Embedding
    b = None if isinstance(m, nn.Embedding) else layer.bias
    return [_Piece(f"{pre}weight", layer.weight, None, tuple(layer.weight.shape), b,
                   None if b is None else f"{pre}bias")]


def targets(module: nn.Module) -> list[nn.Module]:
    """The modules :func:`init_` draws, in ``named_modules`` order (shared ones once)."""
    return [m for m in module.modules() if isinstance(m, _TARGETS)]


def _left_alone_reason(owner: nn.Module, pname: str) -> str:
    if isinstance(owner, _NORMS):
        return ("normalization scale/shift: kept at PyTorch's 1 and 0, so the layer starts "
                "as a pure normalization")
    if isinstance(owner, nn.MultiheadAttention) and pname in ("bias_k", "bias_v"):
        return ("add_bias_kv rows appended to the keys/values (PyTorch: xavier_normal_); "
                "they have no fan convention")
    return (f"a parameter of a {type(owner).__name__} module: init_ has no fan convention "
            "for it")


def draw(module: nn.Module, w_init: Any, b_init: Any, keep: bool,
         rng: np.random.Generator) -> tuple[list[tuple[_Piece, np.ndarray, np.ndarray | None]],
                                                pd.DataFrame]:
    """Draw every piece (nothing is written yet) and tabulate what happens to each
    parameter.  Target module k draws from the k-th stream spawned from ``rng``; its
    piece j from the j-th of ``len(pieces)`` streams spawned from that (one piece:
    the stream itself), weight and bias from two streams spawned from the piece's."""
    mods = [(name, m) for name, m in module.named_modules() if isinstance(m, _TARGETS)]
    streams = rng.spawn(len(mods))
    draws, rows = [], []
    covered: dict[int, str] = {}  # parameters drawn (whole or by slices) → first label
    b_name = None if keep else ("zeros" if b_init is None else b_init.name)
    for (name, m), stream in zip(mods, streams, strict=True):
        pieces = _pieces(name, m)
        piece_streams = [stream] if len(pieces) == 1 else stream.spawn(len(pieces))
        for piece, ps in zip(pieces, piece_streams, strict=True):
            w_rng, b_rng = ps.spawn(2)
            if piece.rows is None and id(piece.weight) in covered:  # a tied weight
                rows.append(_row(piece.label, m, piece.shape, None, None, w_init.name,
                                 math.nan, "tied",
                                 f"the same tensor as {covered[id(piece.weight)]}, drawn "
                                 "once there"))
                continue
            fan_in, fan_out = _init.fans(piece.shape)
            w = w_init.sample(piece.shape, rng=w_rng)
            b = None
            n_b = (0 if piece.bias is None else piece.bias.shape[0] if piece.bias_rows is None
                   else piece.bias_rows.stop - piece.bias_rows.start)
            if piece.bias is not None and not keep:
                b = (np.zeros(n_b) if b_init is None
                     else b_init.sample((n_b,), rng=b_rng, fans=(fan_in, fan_out)))
            draws.append((piece, w, b))
            covered.setdefault(id(piece.weight), piece.label)
            rows.append(_row(piece.label, m, piece.shape, fan_in, fan_out, w_init.name,
                             scheme_variance(w_init, (fan_in, fan_out), piece.shape),
                             "initialized",
                             "PyTorch's fans of this matrix"))
            if piece.bias is not None:
                covered.setdefault(id(piece.bias), piece.bias_label or "")
                rows.append(_row(piece.bias_label, m, (n_b,), fan_in, fan_out,
                                 b_name, math.nan if keep else
                                 (0.0 if b_init is None
                                  else scheme_variance(b_init, (fan_in, fan_out))),
                                 "kept" if keep else "initialized",
                                 "bias='keep'" if keep else "the fans of its weight"))
        if isinstance(m, nn.Embedding) and m.padding_idx is not None:
            rows[-1]["reason"] += f"; row padding_idx={m.padding_idx} set to 0 (as PyTorch)"
    for pname, p in module.named_parameters():  # shared parameters are listed once
        if id(p) in covered:
            continue
        owner_name, _, leaf = pname.rpartition(".")
        owner = module.get_submodule(owner_name)
        rows.append(_row(pname, owner, tuple(p.shape), None, None, None, math.nan,
                         "left alone", _left_alone_reason(owner, leaf)))
    return draws, pd.DataFrame(rows)


def scheme_variance(ini: Any, fans: tuple[int, int], shape: tuple[int, ...] | None = None
                    ) -> float:
    """The variance ``ini`` gives one entry: of a weight of ``shape`` (at the scheme's
    :meth:`~satsim.init.Initializer.moment_fans`, so an orthogonal conv kernel is the
    matrix it is drawn as), or of a bias scaled by its layer's ``fans``; NaN when the
    scheme has none."""
    try:
        return float(ini.variance(*(fans if shape is None else ini.moment_fans(shape))))
    except (NotImplementedError, ValueError, TypeError):
        return math.nan


def _row(parameter: str | None, owner: nn.Module, shape: tuple[int, ...], fan_in: int | None,
         fan_out: int | None, scheme: str | None, variance: float, action: str,
         reason: str) -> dict[str, Any]:
    return {"parameter": parameter, "module": type(owner).__name__, "shape": shape,
            "fan_in": fan_in, "fan_out": fan_out, "scheme": scheme, "variance": variance,
            "action": action, "reason": reason}


def write(draws: list[tuple[_Piece, np.ndarray, np.ndarray | None]],
          mods: list[nn.Module], w_init: Any, b_init: Any) -> None:
    """Copy the draws into the parameters (their dtype and device) and record the
    initializers on each target module."""
    with torch.no_grad():
        for piece, w, b in draws:
            dst = piece.weight if piece.rows is None else piece.weight[piece.rows]
            dst.copy_(torch.from_numpy(w))
            if b is not None and piece.bias is not None:
                rows = piece.bias_rows
                (piece.bias if rows is None else piece.bias[rows]).copy_(torch.from_numpy(b))
        for m in mods:
            setattr(m, _WEIGHT_TAG, w_init)
            if b_init is not None:
                setattr(m, _BIAS_TAG, b_init)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                m.weight[m.padding_idx].zero_()


@result
class InitResult(Result):
    """What :func:`satsim.torch.init_` did to every parameter of a module.

    ``table`` (also :meth:`to_frame`) has one row per weight matrix drawn (a stacked
    ``in_proj_weight`` gives three rows, ``[q]``, ``[k]``, ``[v]``), per bias, and per
    parameter left alone: ``parameter``, ``module`` (its type), ``shape`` (of the
    piece), ``fan_in``, ``fan_out``, ``scheme``, ``variance`` (the scheme's variance
    with those fans), ``action`` ("initialized", "kept", "left alone") and
    ``reason``.  Read it with :func:`satsim.torch.init_report`.
    """

    _title = "init_ report (satsim.torch)"

    table: pd.DataFrame
    initializer: str
    bias: str

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _summary_header(self) -> list[str]:
        left = self.table[self.table.action == "left alone"]
        return [f"initializer {self.initializer!r}, bias {self.bias!r}; "
                f"{len(left)} parameter(s) left alone"]

    @property
    def left_alone(self) -> tuple[str, ...]:
        """Names of the parameters :func:`init_` did not draw."""
        return tuple(self.table.parameter[self.table.action == "left alone"])


_KEEP = "keep"


@fill
def init_(module: Any, initializer: Any, *, bias: Any = _KEEP, rng: Any = None) -> Any:
    r"""Initialize every ``Linear``/``Conv*``/``ConvTranspose*`` layer, every
    ``MultiheadAttention`` projection and every ``Embedding`` of ``module`` in place
    with a satsim initializer; returns ``module``.

    Each weight matrix is drawn by ``initializer.sample(shape)`` — fans from
    :func:`satsim.init.fans`, PyTorch's layout, exactly
    ``torch.nn.init._calculate_fan_in_and_fan_out`` — in float64, then copied into
    the tensor in its own dtype and device.  A ``MultiheadAttention``'s query, key and
    value projections are three matrices, each with its own fans: the thirds
    ``(E, E)`` of a stacked ``in_proj_weight`` (fan_in = fan_out = E, not the
    ``(3E, E)`` tensor's fan_out = 3E), or ``q/k/v_proj_weight`` when ``kdim``/``vdim``
    differ.  An ``Embedding``'s weight (num_embeddings, embedding_dim) takes PyTorch's
    fans of that tensor: fan_in = embedding_dim, fan_out = num_embeddings; its
    ``padding_idx`` row is set back to 0, as PyTorch does.  Tied weights are drawn
    once.  Normalization scales and shifts (PyTorch's 1 and 0), ``bias_k``/``bias_v``
    and parameters of other modules are left alone; :func:`init_report` lists every
    parameter with what was done to it and why.

    Module k (in ``module.modules()`` order) draws from the k-th stream spawned from
    ``rng``; a ``MultiheadAttention``'s q, k, v from three streams spawned from that;
    each matrix's weight and bias from two streams spawned from its own, so the
    result depends on the seed alone and the weights do not depend on the ``bias``
    option.  The initializers are recorded on the module (attributes
    ``_satsim_init``, ``_satsim_bias_init``) so that :func:`layer_statistics`
    compares the realised variance with theirs.

    Parameters
    ----------
    module : torch.nn.Module
    initializer : Initializer or str
        Any satsim initializer or registered name (``"he_normal"``, ``"orthogonal"``
        …; see :func:`satsim.init.names`).
    bias : "keep", None, Initializer or str, default "keep"
        ``"keep"`` leaves biases as they are, None sets them to 0, an initializer
        (elementwise) samples them with the layer's fans
        (``sample((n,), fans=(fan_in, fan_out))``, so ``"torch_linear"`` draws
        U(±1/√fan_in) as PyTorch does); an ``in_proj_bias`` third takes the fans of
        its projection.
    %(rng)s

    Returns
    -------
    torch.nn.Module
        ``module``, initialized.

    Examples
    --------
    >>> import torch, satsim.torch
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU())
    >>> net = satsim.torch.init_(net, "he_normal", bias=None, rng=0)
    >>> bool((net[0].bias == 0).all())
    True
    """
    _check_module(module)
    w_init = _init.as_initializer(initializer, param="initializer")
    keep = isinstance(bias, str) and bias == _KEEP
    b_init = None if keep or bias is None else _init.as_initializer(bias, param="bias")
    if b_init is not None and not b_init.elementwise:
        raise ValueError(f"`bias` must be an elementwise initializer (a bias is 1-D); "
                         f"{b_init.name!r} couples the entries of a layer; got bias={bias!r}")
    layers: list[Any] = targets(module)
    if not layers:
        raise ValueError(f"`module` has no Linear or Conv layer, MultiheadAttention or "
                         f"Embedding to initialize; got a {type(module).__name__}")
    for m in layers:
        for p in m.parameters(recurse=False):
            if isinstance(p, nn.parameter.UninitializedParameter):
                raise ValueError(f"`module` has a lazy layer ({type(m).__name__}) whose "
                                 "shape is not known yet; run one forward pass first")
        if torch.nn.utils.parametrize.is_parametrized(m):
            raise ValueError(f"`module` has a parametrized layer ({type(m).__name__}); "
                             "its weight is computed, not stored, so it cannot be set")
    # draw everything first: a failing initializer leaves the module untouched
    draws, table = draw(module, w_init, b_init, keep, check_rng(rng))
    write(draws, layers, w_init,
                      None if keep else (_init.get("zeros") if b_init is None else b_init))
    bias_name = "keep" if keep else ("zeros" if b_init is None else b_init.name)
    setattr(module, _REPORT_TAG, InitResult(table=table, initializer=w_init.name,
                                            bias=bias_name))
    return module


def init_report(module: Any) -> InitResult:
    """What the last :func:`init_` on ``module`` did to each of its parameters.

    Parameters
    ----------
    module : torch.nn.Module
        A module that :func:`init_` initialized.

    Returns
    -------
    InitResult
        One row per weight matrix drawn (the query, key and value thirds of a stacked
        ``in_proj_weight`` each on its own, with its fans), per bias, and per parameter
        left alone with the reason (normalization scales and shifts, ``bias_k``/
        ``bias_v``, parameters of modules :func:`init_` has no fan convention for);
        ``.left_alone`` names the last.

    Raises
    ------
    ValueError
        :func:`init_` has not been run on ``module`` (or :func:`load_weights` has
        replaced its weights since).

    Examples
    --------
    >>> import torch, satsim.torch
    >>> net = satsim.torch.init_(torch.nn.TransformerEncoderLayer(16, 2), "he_normal", rng=0)
    >>> satsim.torch.init_report(net).left_alone
    ('norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias')
    """
    _check_module(module)
    report = vars(module).get(_REPORT_TAG)
    if report is None:
        raise ValueError("satsim.torch.init_ has not initialized `module` (or load_weights "
                         f"has replaced its weights since); got a {type(module).__name__}")
    return report
