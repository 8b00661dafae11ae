r"""Backward signal propagation at initialization: the gradient's second moment per
layer and the spectrum of the input–output Jacobian, measured in NumPy networks and
predicted by mean-field theory and free probability.

Conventions are those of :mod:`satsim.meanfield`: layer l maps :math:`n_{l-1}` inputs
to :math:`N_l = n_l` units, :math:`z^l = W^l \varphi_{l-1}(z^{l-1}) + b^l` with
:math:`\mathrm{Var}\,w^l = \sigma_w^2(l)/n_{l-1}` and :math:`\mathrm{Var}\,b^l =
\sigma_b^2(l)` at the layer's own fans, and :math:`q^l(x)` the forward length map of
each input (:mod:`satsim.meanfield._propagation`, reused, not re-derived).  Gaussian
expectations come from :mod:`satsim.meanfield._gaussian` (closed forms where they exist,
the 600-node composite rule otherwise), the quadrature of the forward maps.

Gradient moments (:func:`gradient_moments`)
    For one example, :math:`\delta^l = \partial C/\partial z^l` obeys the backward
    recursion :math:`\delta^l = (W^{l+1\top}\delta^{l+1}) \odot \varphi_l'(z^l)`.
    Treating :math:`W^{l+1}` as independent of :math:`\delta^{l+1}` and of
    :math:`z^l` (the gradient-independence assumption of Schoenholz et al. 2017, §3;
    exact as the widths grow, Yang 2020), :math:`E(W^\top\delta)_j^2 =
    \mathrm{Var}(w^{l+1})\lVert\delta^{l+1}\rVert^2`, so for each input x

    .. math::

        E\lVert\delta^l\rVert^2 = \sigma_w^2(l+1)\,
        \int\!Dz\,\varphi_l'\big(\sqrt{q^l(x)}\,z\big)^2\; E\lVert\delta^{l+1}\rVert^2,
        \qquad \tilde q^l = \frac{E\lVert\delta^l\rVert^2}{N_l}
        = \tilde q^{l+1}\,\sigma_w^2(l+1)\frac{N_{l+1}}{N_l}\,E\varphi_l'(z^l)^2,

    i.e. a factor :math:`\chi_1` per layer going down when the widths are equal and
    the signal sits at its fixed point (Schoenholz et al. 2017, eq. (9)).  The
    recursion predicts *ratios* between layers; it is anchored on the measured
    :math:`\lVert\delta^L(x)\rVert^2` of the top layer, input by input, and the
    per-input predictions are averaged over the inputs (as the forward mixture of
    :func:`satsim.meanfield.layer_moments`).  The per-example weight gradient is the
    outer product :math:`\partial C/\partial W^l = \delta^l a^{l-1\top}`, so
    :math:`\lVert\partial C/\partial W^l\rVert^2 = \lVert\delta^l\rVert^2
    \lVert a^{l-1}\rVert^2` exactly, and with δ independent of a (mean field)
    :math:`E\lVert\partial C/\partial W^l\rVert^2 \approx E\lVert\delta^l\rVert^2\,
    n_{l-1}\,E\varphi_{l-1}(z^{l-1})^2` (:math:`\lVert x\rVert^2` for l = 1).

    Cost.  ``cost="direction"`` (default) sets :math:`\partial C/\partial z^L = u`,
    :math:`u \sim N(0, I)` drawn afresh for every example and network — the
    cost :math:`C = u\cdot z^L` with a linear output, which is what the
    mean-field recursion assumes (δ^L independent of everything below).
    ``cost="quadratic"`` is Nielsen's quadratic cost with a sigmoid output and random
    one-hot targets (δ^L from the network's own cost); its δ^L depends on z^L, and
    the anchoring on the measured top layer absorbs that.

    Measurement.  All the inputs of a network are backpropagated at once, as rows
    of one batch, in :class:`satsim.nn.Network`'s own formulas (its forward pass,
    its activations' φ', the recursion above on row batches); rows never mix, so
    row r's :math:`\delta^l_r` and :math:`a^{l-1}_r` are example r's, and its two
    norms come without forming any gradient matrix.  (This equals backpropagating
    each example alone to rounding, at the cost of two matrix products per layer
    for the whole batch.)

Input–output Jacobian (:func:`jacobian_spectrum`)
    With :math:`x^0` at the fixed point (:math:`x^0 = \varphi(h^0)`, :math:`h^0 \sim
    N(0, q^*)`, so every layer's pre-activation has variance :math:`q^*`), the
    Jacobian of the last layer's *activation* with respect to the input (Pennington,
    Schoenholz & Ganguli 2017, eq. (2)) is

    .. math::

        J = \frac{\partial x^L}{\partial x^0} = D_L W_L \cdots D_1 W_1, \qquad
        D_l = \mathrm{diag}\,\varphi'(h^l).

    Its squared singular values are the eigenvalues of :math:`JJ^\top`.  By
    asymptotic freeness of the :math:`D_l^2` and :math:`W_lW_l^\top` (PSG 2017 §3),
    the S-transform of :math:`JJ^\top` is the product of theirs.  For a law with
    moments :math:`m_1, m_2`, inverting :math:`\psi(z) = m_1 z + m_2 z^2 + O(z^3)`
    gives :math:`S(z) = \frac{1+z}{z}\psi^{-1}(z) = \frac1{m_1}\big(1 - \frac{m_2 -
    m_1^2}{m_1^2} z + O(z^2)\big)`, so the product of 2L such factors has

    .. math::

        M_1 = \prod_l m_1(W_lW_l^\top)\,m_1(D_l^2) = \prod_l \chi_1(l), \qquad
        \frac{V}{M_1^2} = \sum_l \Big[\kappa_W + \frac{E\varphi'(h)^4}
        {(E\varphi'(h)^2)^2} - 1\Big],

    with :math:`M_1` the mean and V the variance of the squared singular values,
    :math:`\kappa_W = 1` for Gaussian weights (Marchenko–Pastur law of ratio 1:
    :math:`m_2 = 2m_1^2`) and 0 for orthogonal ones (:math:`WW^\top = \sigma_w^2 I`).
    ReLU's :math:`D^2` is a Bernoulli(½) mask: :math:`\kappa_D = 1`.  At
    criticality (:math:`\chi_1 = 1`) the variance grows linearly with depth, the
    Gaussian slope exceeding the orthogonal one by exactly 1.  (Checked: for linear
    Gaussian layers the limit is the Fuss–Catalan law, :math:`m_2 = L + 1`; the
    tests compare every case with Monte Carlo.)  Finite width adds a relative error
    of order :math:`L/N` (for one real Wishart factor :math:`m_2 = 2 + 1/N`).

Per-layer Jacobians (:func:`layer_jacobian`)
    Glorot & Bengio (2010, §4.2.2) report the average singular value of the layer
    Jacobian :math:`J^l = \partial x^l/\partial x^{l-1} = D_l W_l` in 1000-unit tanh
    networks: about 0.5 with the "standard" U(±1/√n) (``"torch_linear"``) and 0.8
    with the normalized U(±√6/√(n_in + n_out)) (``"glorot_uniform"``) — as
    reported.  Its mean square is :math:`\sigma_w^2(l)\,E\varphi'(z^l)^2` in closed
    form.  Its mean singular value needs the whole spectrum: :math:`J^{l\top}J^l =
    \frac1n X^\top T X` with :math:`T = \sigma_w^2 D_l^2`, whose limiting Stieltjes
    transform solves the Marchenko–Pastur–Silverstein equation (ratio 1)
    :math:`m(z) = \big(-z + \int \frac{t\,dH(t)}{1 + t\,m(z)}\big)^{-1}`, H the law
    of :math:`\sigma_w^2\varphi'(\sqrt q Z)^2` on the quadrature nodes.  It is solved
    by Newton's method with continuation along a grid of singular values s (the
    density of s, :math:`2s\,\mathrm{Im}\,m(s^2 + i0)/\pi`, is bounded where that of
    s² is not); the mean is accurate to ~1e-5 (at q = 0 it is the quarter-circle
    value :math:`\frac{8}{3\pi}\sigma_w`, a test).

References
----------
.. [1] S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein, "Deep information
   propagation", ICLR 2017, §3 (backpropagation of gradients).
.. [2] J. Pennington, S. Schoenholz, S. Ganguli, "Resurrecting the sigmoid in deep
   learning through dynamical isometry: theory and practice", NeurIPS 2017, §3.
.. [3] X. Glorot, Y. Bengio, "Understanding the difficulty of training deep
   feedforward neural networks", AISTATS 2010, §4.2.2.
.. [4] G. Yang, "Tensor programs III: neural matrix laws", arXiv:2009.10685 (2020)
   (the gradient-independence assumption).
.. [5] J. W. Silverstein, Z. D. Bai, "On the empirical distribution of eigenvalues of
   a class of large dimensional random matrices", J. Multivariate Anal. 54 (1995).
"""

from __future__ import annotations

from satsim._namespace import public_dir
from satsim.gradients._jacobian import (
    JacobianSpectrumResult,
    LayerJacobianResult,
    jacobian_spectrum,
    layer_jacobian,
    mean_singular_value,
)
from satsim.gradients._signal import (
    GradientMomentsResult,
    backprop_example,
    gradient_moments,
)

__all__ = [
    "GradientMomentsResult",
    "JacobianSpectrumResult",
    "LayerJacobianResult",
    "backprop_example",
    "gradient_moments",
    "jacobian_spectrum",
    "layer_jacobian",
    "mean_singular_value",
]

__dir__ = public_dir(globals())
