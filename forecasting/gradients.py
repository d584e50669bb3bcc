"""statsforecast's ARIMA fits, the same numbers for less CPU: scipy's BFGS and forward-difference gradient
without scipy's per-call overhead.

statsforecast fits an ARIMA (``statsforecast.arima.arima``: CSS, then maximum likelihood) by
``scipy.optimize.minimize(method="BFGS")`` with no gradient, so scipy estimates each gradient by forward
differences (``approx_derivative``, 2-point, absolute step ``√eps``). With one to four parameters the
objective itself is cheap (a C call), and most of a fit's CPU went to the Python machinery around it:
argument checks, array-API conversion and bounds handling around each difference quotient, and the
memoising function object (``ScalarFunction``) that BFGS calls (measured in docs/forecast-history.md, "The
next cut: ARIMA's optimiser without scipy's overhead"). Here:

- :func:`forward_gradient` computes the same quotients, ``(f(x + hᵢ·eᵢ) − f(x)) / ((xᵢ + hᵢ) − xᵢ)``
  with scipy's step rule, in plain numpy, reusing ``f(x)`` already computed at ``x``;
- :func:`bfgs` runs scipy 1.17's BFGS iteration (``scipy.optimize._optimize._minimize_bfgs``: the same
  statements, scipy's own line search ``_line_search_wolfe12``) over a small memoising objective
  (:class:`_Objective`) instead of ``ScalarFunction``. Under another scipy (whose loop may differ) or
  with options it does not handle, it calls ``scipy.optimize.minimize`` with :func:`forward_gradient`
  as the gradient instead (the same result; less of the saving).

- :func:`_lean_objective` stands in for statsforecast's two ARIMA objectives (``arma_css_op``, the CSS one,
  and ``armafn``, the Gaussian likelihood), closures of ``statsforecast.arima.arima``: the same statements
  on the same arrays, bound once to their fixed arguments, without the per-call Python wrappers around the
  C calls (an argument copy, an index built each call, three wrapper functions). Only under the
  statsforecast whose closures it repeats (2.1); anything else is minimised as given.

The iterates, the result and statsforecast's fit are bit for bit those of scipy's own BFGS (tested); only
the counts of function evaluations differ. :func:`install` points ``statsforecast.arima``'s ``minimize``
at :func:`bfgs` (idempotent, per process; calls other than an unbounded BFGS without a gradient pass
through unchanged). The forecast engine calls it in every worker before fitting. No I/O.
"""

from __future__ import annotations

import math
import sys
from importlib.metadata import version

import numpy as np
import scipy
import scipy.optimize

try:  # scipy's own pieces of its BFGS (private: used only under the scipy whose loop :func:`bfgs` copies)
    from scipy.optimize._optimize import (
        OptimizeResult,
        _line_search_wolfe12,
        _LineSearchError,
        _status_message,
        vecnorm,
    )
except ImportError:  # pragma: no cover - another scipy: the public path below
    _line_search_wolfe12 = None

__all__ = ["forward_gradient", "bfgs", "install"]

_SCIPY_MINIMIZE = scipy.optimize.minimize
_EPS = float(np.finfo(np.float64).eps)
_STEP = _EPS**0.5  # scipy.optimize._optimize._epsilon: BFGS's default absolute step
# the scipy whose _minimize_bfgs loop :func:`_bfgs_loop` repeats statement for statement
_LOOP_SCIPY = scipy.__version__.startswith("1.17.") and _line_search_wolfe12 is not None
_LOOP_OPTIONS = {"maxiter", "gtol", "eps"}
# the statsforecast whose ARIMA objectives :func:`_lean_objective` repeats statement for statement
_LEAN_STATSFORECAST = version("statsforecast").startswith("2.1.")


def _scalar(value: object) -> float:
    """The objective's value as scipy's wrapper takes it (a true scalar)."""
    return value if np.isscalar(value) else np.asarray(value).item()


def forward_gradient(fun, x: np.ndarray, f0: float, args: tuple = (), step: float | np.ndarray = _STEP) -> np.ndarray:
    """Forward differences of ``fun`` at ``x`` exactly as scipy's ``approx_derivative`` takes them for BFGS
    without bounds (method ``2-point``, absolute ``step``; where ``xᵢ + step`` rounds back to ``xᵢ``, the
    relative step ``√eps · sign(xᵢ) · max(1, |xᵢ|)``)."""
    x = np.asarray(x, dtype=np.float64)
    # one step for every parameter (BFGS's): a float64 scalar, not an array broadcast to x's shape each call
    scalar = not isinstance(step, np.ndarray) or step.ndim == 0
    steps = np.float64(step) if scalar else np.broadcast_to(np.asarray(step, dtype=np.float64), x.shape)
    base = np.float64(f0)
    grad = np.empty(x.size)
    for i in range(x.size):  # one objective call per parameter, as scipy's loop; float64 scalars throughout
        xi, hi = x[i], steps if scalar else steps[i]
        if (xi + hi) - xi == 0:  # the step is lost in xi's rounding: scipy's relative step
            hi = _STEP * (1.0 if xi >= 0 else -1.0) * np.maximum(1.0, np.abs(xi))
        moved = x.copy()
        moved[i] = xi + hi
        grad[i] = (np.float64(_scalar(fun(moved, *args))) - base) / ((xi + hi) - xi)
    return grad


class _Objective:
    """The objective and its :func:`forward_gradient` at the latest point asked for, each computed once
    there (as scipy's ``ScalarFunction`` memoises them: a new point forgets both)."""

    def __init__(self, fun, args: tuple, step):
        self.fun, self.args, self.step = fun, args, step
        self.x: np.ndarray | None = None
        self.f = self.g = None
        self.nfev = self.ngev = 0

    def _at(self, x: np.ndarray) -> None:
        # scipy's test, elementwise ==, on Python floats: a handful of parameters compare faster as a list
        # (each tolist() makes new float objects, so a NaN is never equal, as in numpy)
        if self.x is None or x.shape != self.x.shape or x.tolist() != self.x.tolist():
            self.x = np.array(x, dtype=np.float64)
            self.f = self.g = None

    def value(self, x: np.ndarray):
        self._at(x)
        if self.f is None:
            self.f = _scalar(self.fun(self.x.copy(), *self.args))
            self.nfev += 1
        return self.f

    def grad(self, x: np.ndarray) -> np.ndarray:
        self._at(x)
        if self.g is None:
            self.g = forward_gradient(self.fun, self.x, self.value(self.x), self.args, self.step)
            self.nfev += self.x.size
            self.ngev += 1
        return self.g


def _bfgs_loop(fun, x0: np.ndarray, args: tuple, gtol: float = 1e-5, eps=_STEP, maxiter: int | None = None):
    """scipy 1.17's ``_minimize_bfgs`` with its defaults (``norm=inf``, ``xrtol=0``, ``c1=1e-4``,
    ``c2=0.9``, no callback) over :class:`_Objective`: statement for statement, so the same floats."""
    x0 = np.asarray(x0).flatten()
    if x0.ndim == 0:
        x0 = x0.reshape((1,))
    if maxiter is None:
        maxiter = len(x0) * 200
    objective = _Objective(fun, args, eps)
    f, myfprime = objective.value, objective.grad
    old_fval = f(x0)
    gfk = myfprime(x0)
    k = 0
    N = len(x0)
    I = np.eye(N, dtype=int)  # noqa: E741 - scipy's name
    Hk = I
    old_old_fval = old_fval + np.linalg.norm(gfk) / 2
    xk = x0
    warnflag = 0
    gnorm = vecnorm(gfk, ord=np.inf)
    while (gnorm > gtol) and (k < maxiter):
        pk = -np.dot(Hk, gfk)
        try:
            alpha_k, fc, gc, old_fval, old_old_fval, gfkp1 = _line_search_wolfe12(
                f, myfprime, xk, pk, gfk, old_fval, old_old_fval, amin=1e-100, amax=1e100, c1=1e-4, c2=0.9)
        except _LineSearchError:
            warnflag = 2
            break
        sk = alpha_k * pk
        xkp1 = xk + sk
        xk = xkp1
        if gfkp1 is None:
            gfkp1 = myfprime(xkp1)
        yk = gfkp1 - gfk
        gfk = gfkp1
        k += 1
        gnorm = vecnorm(gfk, ord=np.inf)
        if gnorm <= gtol:
            break
        if alpha_k * vecnorm(pk) <= 0 * (0 + vecnorm(xk)):  # xrtol = 0
            break
        if not np.isfinite(old_fval):
            warnflag = 2
            break
        rhok_inv = np.dot(yk, sk)
        rhok = 1000.0 if rhok_inv == 0.0 else 1.0 / rhok_inv
        A1 = I - sk[:, np.newaxis] * yk[np.newaxis, :] * rhok
        A2 = I - yk[:, np.newaxis] * sk[np.newaxis, :] * rhok
        Hk = np.dot(A1, np.dot(Hk, A2)) + (rhok * sk[:, np.newaxis] * sk[np.newaxis, :])
    fval = old_fval
    if warnflag == 2:
        msg = _status_message["pr_loss"]
    elif k >= maxiter:
        warnflag = 1
        msg = _status_message["maxiter"]
    elif np.isnan(gnorm) or np.isnan(fval) or np.isnan(xk).any():
        warnflag = 3
        msg = _status_message["nan"]
    else:
        msg = _status_message["success"]
    return OptimizeResult(fun=fval, jac=gfk, hess_inv=Hk, nfev=objective.nfev, njev=objective.ngev,
                          status=warnflag, success=(warnflag == 0), message=msg, x=xk, nit=k)


def bfgs(fun, x0, args=(), method=None, jac=None, tol=None, **kwargs):
    """``scipy.optimize.minimize`` for an unbounded BFGS without a gradient, the same result for less CPU
    (module docstring); anything else is passed to scipy unchanged."""
    if method != "BFGS" or jac is not None or set(kwargs) - {"options"}:
        return _SCIPY_MINIMIZE(fun, x0, args=args, method=method, jac=jac, tol=tol, **kwargs)
    options = dict(kwargs.get("options") or {})
    if "finite_diff_rel_step" in options:
        return _SCIPY_MINIMIZE(fun, x0, args=args, method=method, jac=jac, tol=tol, **kwargs)
    if tol is not None:
        options.setdefault("gtol", tol)  # as scipy.optimize.minimize does for BFGS
    x0 = np.atleast_1d(np.asarray(x0))
    if x0.dtype.kind in np.typecodes["AllInteger"]:
        x0 = np.asarray(x0, dtype=float)
    args = args if isinstance(args, tuple) else (args,)
    fun, args = _lean_objective(fun, args)
    if _LOOP_SCIPY and x0.ndim == 1 and set(options) <= _LOOP_OPTIONS:
        return _bfgs_loop(fun, x0, args, **options)
    step = options.get("eps", _STEP)
    objective = _Objective(fun, args, step)
    return _SCIPY_MINIMIZE(lambda x, *a: objective.value(x), x0, args=args, method=method,
                           jac=lambda x, *a: objective.grad(x), tol=tol, **kwargs)


def _free_variable(fun, name: str):
    """The value a closure ``fun`` sees for its free variable ``name`` (None when it has none)."""
    names = fun.__code__.co_freevars
    return fun.__closure__[names.index(name)].cell_contents if name in names else None


def _css_objective(x, coef, mask, arma, ncxreg, xreg, narma):
    """statsforecast 2.1's ``arma_css_op(p, x, coef, mask, arma, ncxreg, xreg, narma)`` as a function of
    ``p`` alone: the conditional sum of squares' half log."""
    from statsforecast._lib import arima as lib

    free, cols = np.flatnonzero(mask), narma + np.arange(ncxreg)  # the same elements as par[mask], par[cols]

    def css(p):
        par = coef.copy()
        par[free] = p
        phi, theta = lib.arima_transpar(par, arma, False)
        y = x - np.dot(xreg, par[cols]) if ncxreg > 0 else x.copy()  # statsforecast: x.copy(); x -= ...
        res, _ = lib.arima_css(y, arma, phi, theta)
        if math.isinf(res):
            return sys.float_info.max
        if res <= 0.0:
            return -math.inf
        return 0.5 * math.log(res)

    return css


def _ml_objective(x, trans, coef, mask, arma, mod, ncxreg, xreg, narma):
    """statsforecast 2.1's ``armafn(p, x, trans, coef, mask, arma, mod, ncxreg, xreg, narma)`` (with its
    ``upARIMA`` under Gardner's initial covariance) as a function of ``p`` alone: the Gaussian likelihood's
    half log, updating ``mod`` in place as it does."""
    from statsforecast._lib import arima as lib
    from statsforecast.arima import getQ0

    free, cols = np.flatnonzero(mask), narma + np.arange(ncxreg)
    no_resid = np.empty(0)

    def ml(p):
        par = coef.copy()
        par[free] = p
        phi, theta = lib.arima_transpar(par, arma, trans)
        n_phi, n_theta = len(phi), len(theta)  # upARIMA(mod, phi, theta):
        mod["phi"], mod["theta"] = phi, theta
        r = max(n_phi, n_theta + 1)
        if n_phi > 0:
            mod["T"][:n_phi, 0] = phi
        if r > 1:
            mod["Pn"][:r, :r] = getQ0(phi, theta)
        else:
            mod["Pn"][0, 0] = 1 / (1 - phi[0] ** 2) if n_phi > 0 else 1
        mod["a"][:] = 0
        y = x - np.dot(xreg, par[cols]) if ncxreg > 0 else x.copy()
        ssq, sumlog, nu = lib.arima_like(y, phi, theta, mod["delta"], mod["a"], mod["P"].ravel(),
                                         mod["Pn"].ravel(), 0, False, no_resid)  # arima_like(..., 0, False)
        if nu == 0.0:
            return math.inf
        s2 = ssq / nu
        if s2 <= 0:
            return math.nan
        return 0.5 * (math.log(s2) + sumlog / nu)

    return ml


def _lean_objective(fun, args: tuple) -> tuple:
    """``(fun, args)``, or for statsforecast 2.1's ARIMA objectives the same objective bound to ``args``
    without its per-call wrappers, and no arguments (module docstring)."""
    name = getattr(fun, "__qualname__", "") if _LEAN_STATSFORECAST else ""
    if name == "arima.<locals>.arma_css_op" and len(args) == 7:
        return _css_objective(*args), ()
    if name == "arima.<locals>.armafn" and len(args) == 9:
        update = _free_variable(fun, "upARIMA")  # another initial covariance raises there: leave it to it
        if update is not None and _free_variable(update, "SSG") is True:
            return _ml_objective(*args), ()
    return fun, args


def install() -> None:
    """Have statsforecast's ARIMA fits minimise through :func:`bfgs` in this process (no-op when done, or
    when that statsforecast has no module-level ``minimize`` to replace)."""
    import statsforecast.arima as arima

    if getattr(arima, "minimize", None) is _SCIPY_MINIMIZE:
        arima.minimize = bfgs
