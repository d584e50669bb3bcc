"""statsforecast's ARIMA fits, the same numbers for less CPU: scipy's forward-difference gradient without
scipy's per-call overhead.

statsforecast fits an ARIMA (``statsforecast.arima.arima``: CSS, then maximum likelihood) by
``scipy.optimize.minimize(method="BFGS")`` with no gradient, so scipy estimates each gradient by forward
differences (``approx_derivative``, 2-point, absolute step ``√eps``). With one to four parameters the
objective itself is cheap (a C call), and most of a fit's CPU went to the Python machinery around the
difference quotient (argument checks, array-API conversion, bounds handling: about a quarter of an
AutoARIMA search, measured in the README's "forecaster's cost"). :func:`forward_gradient` computes the same
quotients, ``(f(x + hᵢ·eᵢ) − f(x)) / ((xᵢ + hᵢ) − xᵢ)`` with scipy's step rule, in plain numpy, and
:func:`bfgs` passes it to the same BFGS as the gradient, reusing ``f(x)`` from the objective call just
made at ``x``. The iterates, the result and statsforecast's fit are bit for bit those of scipy's own
differences (tested); only the count of function evaluations scipy reports differs.

:func:`install` points ``statsforecast.arima``'s ``minimize`` at :func:`bfgs` (idempotent, per process;
calls other than an unbounded BFGS without a gradient pass through unchanged). The forecast engine calls
it in every worker before fitting. No I/O.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

__all__ = ["forward_gradient", "bfgs", "install"]

_SCIPY_MINIMIZE = scipy.optimize.minimize
_EPS = float(np.finfo(np.float64).eps)
_STEP = _EPS**0.5  # scipy.optimize._optimize._epsilon: BFGS's default absolute step


def _scalar(value: object) -> float:
    """The objective's value as scipy's wrapper takes it (a true scalar)."""
    return value if np.isscalar(value) else np.asarray(value).item()


def forward_gradient(fun, x: np.ndarray, f0: float, args: tuple = (), step: float | np.ndarray = _STEP) -> np.ndarray:
    """Forward differences of ``fun`` at ``x`` exactly as scipy's ``approx_derivative`` takes them for BFGS
    without bounds (method ``2-point``, absolute ``step``; where ``xᵢ + step`` rounds back to ``xᵢ``, the
    relative step ``√eps · sign(xᵢ) · max(1, |xᵢ|)``)."""
    x = np.asarray(x, dtype=np.float64)
    h = np.broadcast_to(np.asarray(step, dtype=np.float64), x.shape)
    sign = (x >= 0).astype(float) * 2 - 1
    h = np.where(((x + h) - x) == 0, _STEP * sign * np.maximum(1.0, np.abs(x)), h)
    base = np.atleast_1d(f0)
    grad = np.empty(x.size)
    for i in range(x.size):  # one objective call per parameter, as scipy's loop
        moved = x.copy()
        moved[i] = x[i] + h[i]
        grad[i] = ((np.atleast_1d(_scalar(fun(moved, *args))) - base) / ((x[i] + h[i]) - x[i]))[0]
    return grad


def bfgs(fun, x0, args=(), method=None, jac=None, **kwargs):
    """``scipy.optimize.minimize`` with, for an unbounded BFGS without a gradient, :func:`forward_gradient`
    as its gradient (same result); anything else is passed to scipy unchanged."""
    if method != "BFGS" or jac is not None or kwargs.get("bounds") is not None:
        return _SCIPY_MINIMIZE(fun, x0, args=args, method=method, jac=jac, **kwargs)
    options = kwargs.get("options") or {}
    if "finite_diff_rel_step" in options:
        return _SCIPY_MINIMIZE(fun, x0, args=args, method=method, jac=jac, **kwargs)
    step = options.get("eps", _STEP)
    last: list = [None, None]  # the point of the latest objective call and its value

    def value(x, *a):
        out = _scalar(fun(x, *a))
        last[0], last[1] = x.copy(), out
        return out

    def gradient(x, *a):
        f0 = last[1] if last[0] is not None and np.array_equal(last[0], x) else _scalar(fun(x.copy(), *a))
        return forward_gradient(fun, x, f0, a, step)

    return _SCIPY_MINIMIZE(value, x0, args=args, method=method, jac=gradient, **kwargs)


def install() -> None:
    """Have statsforecast's ARIMA fits minimise through :func:`bfgs` in this process (no-op when done, or
    when that statsforecast has no module-level ``minimize`` to replace)."""
    import statsforecast.arima as arima

    if getattr(arima, "minimize", None) is _SCIPY_MINIMIZE:
        arima.minimize = bfgs
