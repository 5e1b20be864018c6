"""Design-based proportional-odds model for ordered outcomes (R ``survey::svyolr``, logistic link).

Model: ``logit P(Y <= k | x) = zeta_k - x' beta`` for the K - 1 cut points of an outcome with K
ordered levels. As R's ``svyolr``:

* the coefficients maximise the survey-weighted log-likelihood ``sum_i w_i log P(Y_i = y_i)``,
  with the cut points parameterised as ``zeta_1, log(zeta_2 - zeta_1), ...`` (BFGS from R's
  starting values, to a tight tolerance);
* the information matrix is R's: ``optim(hessian = TRUE)``'s central differences (step 1e-3) of
  the analytic gradient, symmetrised, mapped back to the cut points by the Jacobian;
* the covariance is the linearisation sandwich: influence values = per-response scores times the
  inverse information, through the design's strata, clusters, fpc and calibration;
* rows with a missing outcome or predictor are dropped (R's ``na.omit``);
  ``df_residual = degf - number of coefficients``.

The proportional-odds assumption is not tested here; coefficients are associations, not effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import distributions
from cmlkit.design import Design, DesignError, degf, variance
from cmlkit.weights import model_matrix


def _expit(x):
    return 1 / (1 + np.exp(-x))


def _dlogis(x):
    e = np.exp(-np.abs(x))
    return e / (1 + e) ** 2


class _Likelihood:
    """Weighted log-likelihood of the proportional-odds model and its per-row scores (R's fmin / gmini)."""

    def __init__(self, x, y, wt, q):
        self.x, self.y, self.wt, self.q, self.pc = x, y, wt, q, x.shape[1]
        cols = np.arange(1, q + 1)[None, :]
        self.Y1 = (cols == y[:, None]).astype(float)
        self.Y2 = (cols == (y - 1)[:, None]).astype(float)

    def _parts(self, par):
        beta, theta = par[:self.pc], par[self.pc:]
        with np.errstate(over="ignore"):
            gamm = np.concatenate([[-100.0], np.cumsum(np.concatenate([[theta[0]], np.exp(theta[1:])])), [100.0]])
        eta = self.x @ beta
        hi, lo = gamm[self.y] - eta, gamm[self.y - 1] - eta
        return theta, hi, lo, _expit(hi) - _expit(lo)

    def value(self, par):
        _, _, _, pr = self._parts(par)
        if not np.all(pr > 0):
            return np.inf
        return -np.sum(self.wt * np.log(pr))

    def scores(self, par, logdiff=False):
        theta, hi, lo, pr = self._parts(par)
        p1, p2 = _dlogis(hi), _dlogis(lo)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # trial steps may leave the support (R: NA)
            g1 = self.x * (self.wt * (p1 - p2) / pr)[:, None]
            g2 = -(self.Y1 * p1[:, None] - self.Y2 * p2[:, None]) * (self.wt / pr)[:, None]
            if logdiff:
                g2 = g2 @ _jacobian(theta)
        return np.hstack([g1, g2])

    def gradient(self, par):
        return self.scores(par, logdiff=True).sum(axis=0)


def _jacobian(theta):
    k = len(theta)
    J = np.zeros((k, k))
    J[:, 0] = 1.0
    for i in range(1, k):
        J[i:, i] = np.exp(theta[i])
    return J


def _optim_hessian(grad, par, ndeps=1e-3):
    """R's ``optimhess``: central differences of the gradient, symmetrised."""
    H = np.empty((len(par), len(par)))
    for i in range(len(par)):
        e = np.zeros(len(par))
        e[i] = ndeps
        H[i] = (grad(par + e) - grad(par - e)) / (2 * ndeps)
    return (H + H.T) / 2


def _start(x, y, wt, q):
    """R's starting values: a weighted logistic fit of Y > K // 2, cut points spaced on the logit scale."""
    q1 = (q + 1) // 2
    X = np.column_stack([np.ones(len(y)), x])
    y1 = (y > q1).astype(float)
    w = wt / wt.mean()
    b = np.zeros(X.shape[1])
    b[0] = np.log(np.sum(w * y1) / np.sum(w * (1 - y1)))
    for _ in range(100):
        mu = _expit(X @ b)
        step = np.linalg.solve((X * (w * mu * (1 - mu))[:, None]).T @ X, X.T @ (w * (y1 - mu)))
        b = b + step
        if np.max(np.abs(step)) < 1e-12:
            break
    spacing = np.log((np.arange(1, q + 1) / (q + 1)) / (1 - np.arange(1, q + 1) / (q + 1))) / 1.7   # R divides by 1.7 here
    gammas = -b[0] + spacing - spacing[q1 - 1]
    return np.concatenate([b[1:], [gammas[0]], np.log(np.diff(gammas))])


def svyolr(design: Design, outcome: str, *, levels=None, factors=(), numeric=(), domain=None) -> dict:
    """Fit a design-based proportional-odds model, as ``svyolr(factor(outcome) ~ predictors, design)``.

    Parameters
    ----------
    design : Design
    outcome : str
        Ordered outcome column.
    levels : sequence, optional
        The outcome's levels in order (default: its sorted distinct values); other values are missing.
    factors, numeric : sequence of str
        Predictors (treatment-coded factors; numeric columns).
    domain : array-like of bool, optional
        Fit within a subpopulation.

    Returns
    -------
    dict
        ``coefficients`` (DataFrame: term, estimate, se, t, p, odds_ratio; slopes then cut points
        named ``"a|b"``), ``vcov``, ``df_residual``, ``n``, ``converged``, ``limits``.
    """
    data = design.data
    for c in (outcome, *factors, *numeric):
        if c not in data:
            raise DesignError(f"no column {c!r} in the design data")
    raw = data[outcome]
    lev = list(levels) if levels is not None else sorted(raw.dropna().unique())
    code = pd.Series(raw).map({v: i + 1 for i, v in enumerate(lev)})
    if len(lev) < 3:
        raise DesignError(f"{outcome!r} needs 3 or more ordered levels for a proportional-odds model (R: 'response must have 3 or more levels')")
    dom = np.ones(design.n, bool) if domain is None else np.asarray(domain, bool)
    ok = dom & code.notna().to_numpy() & data[list(factors)].notna().all(axis=1).to_numpy()
    for v in numeric:
        ok &= pd.to_numeric(data[v], errors="coerce").notna().to_numpy()
    sub = data.loc[ok]
    X, names = model_matrix(sub, factors=list(factors), numeric=list(numeric),
                            levels={f: sorted(sub[f].astype(str).unique()) for f in factors})
    x, names = X[:, 1:], names[1:]
    y = code[ok].to_numpy(dtype=int)
    wt = design.weights[ok]
    q = len(lev) - 1
    lik = _Likelihood(x, y, wt, q)
    from scipy import optimize   # imported here: only ordinal models need it (a notebook that does not, does not load it)

    res = optimize.minimize(lik.value, _start(x, y, wt, q), jac=lik.gradient, method="BFGS",
                            options={"gtol": 1e-10 * max(1.0, wt.sum()), "maxiter": 10000})
    par = res.x
    for _ in range(5):                       # Newton polish: the optimum itself, not BFGS's stopping point
        step = np.linalg.lstsq(_optim_hessian(lik.gradient, par, ndeps=1e-5), lik.gradient(par), rcond=None)[0]
        if not np.all(np.isfinite(step)) or lik.value(par - step) > lik.value(par):
            break
        par = par - step
    pc = x.shape[1]
    theta = par[pc:]
    zeta = np.cumsum(np.concatenate([[theta[0]], np.exp(theta[1:])]))
    vc = np.linalg.pinv(_optim_hessian(lik.gradient, par))
    A = np.eye(pc + q)
    A[pc:, pc:] = _jacobian(np.concatenate([[zeta[0]], np.log(np.diff(zeta))]))
    H = np.linalg.inv(A @ vc @ A.T)
    infl = np.zeros((design.n, pc + q))
    infl[ok] = lik.scores(par) @ np.linalg.inv(H)
    V = variance(design, infl, present=ok)
    est = np.concatenate([par[:pc], zeta])
    se = np.sqrt(np.diag(V))
    df_res = degf(design, domain=ok) - pc
    t = est / se
    terms = names + [f"{a}|{b}" for a, b in zip(lev[:-1], lev[1:])]
    coef = pd.DataFrame({"term": terms, "estimate": est, "se": se, "t": t, "p": 2 * distributions.t_sf(np.abs(t), df_res),
                         "odds_ratio": np.where(np.arange(len(est)) < pc, np.exp(est), np.nan)})
    return {"coefficients": coef, "vcov": V, "df_residual": int(df_res), "n": int(ok.sum()), "converged": bool(res.success),
            "limits": "design-based proportional odds (svyolr); proportional-odds assumption not tested; associations, not effects"}
