"""Design-based regression: ``svyglm`` (linear and logistic) and Wald tests of terms (``regTermTest``).

Coefficients solve the survey-weighted estimating equations ``sum_i w_i x_i (y_i - mu_i) = 0``
(identity link: weighted least squares; logit link: weighted logistic regression, R's
``family = quasibinomial()``). Their covariance is the linearisation sandwich
``A^-1 V(sum_i U_i) A^-1`` with U_i = w_i x_i (y_i - mu_i) and A = X' diag(w_i mu_i') X, through
the design's strata, clusters, fpc and calibration (:func:`cmlkit.design.variance`), as R's
``svy.varcoef``. Rows with a missing outcome or predictor are dropped before the design degrees
of freedom are counted (R's ``na.action``), so ``df_residual = degf + 1 - p``. ``domain`` fits the
model in a subpopulation (``svyglm(..., design = subset(design, domain))``): other rows keep their
place with zero influence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import distributions
from cmlkit.design import Design, DesignError, degf, variance
from cmlkit.weights import model_matrix

FAMILIES = ("gaussian", "binomial")


def _mu(eta, family):
    return eta if family == "gaussian" else 1 / (1 + np.exp(-eta))


def _dmu(mu, family):
    return np.ones_like(mu) if family == "gaussian" else mu * (1 - mu)


def svyglm(design: Design, outcome: str, *, factors=(), numeric=(), family: str = "gaussian", domain=None,
           maxit: int = 50, tol: float = 1e-12) -> dict:
    """Fit a design-based GLM, as ``svyglm(outcome ~ factors + numeric, design, family)``.

    Parameters
    ----------
    design : Design
    outcome : str
        Numeric outcome (0/1 for ``binomial``).
    factors, numeric : sequence of str
        Categorical predictors (treatment-coded, first sorted level the reference) and numeric ones.
    family : {"gaussian", "binomial"}
        Identity-link linear model or logit-link model (R's ``quasibinomial``).
    domain : array-like of bool or str, optional
        Fit within a subpopulation.

    Returns
    -------
    dict
        ``coefficients`` (DataFrame: term, estimate, se, t, p), ``vcov``, ``names``, ``df_residual``,
        ``n`` (rows used), ``terms`` (term -> column indices), ``converged``.
    """
    if family not in FAMILIES:
        raise DesignError(f"family must be one of {FAMILIES}, not {family!r}")
    data = design.data
    cols = [outcome, *factors, *numeric]
    for c in cols:
        if c not in data:
            raise DesignError(f"no column {c!r} in the design data")
    dom = np.ones(design.n, bool) if domain is None else (data[domain].astype(bool).to_numpy() if isinstance(domain, str)
                                                         else np.asarray(domain, bool))
    y = pd.to_numeric(data[outcome], errors="coerce").to_numpy(dtype=float)
    ok = dom & ~np.isnan(y) & data[list(factors)].notna().all(axis=1).to_numpy()
    for v in numeric:
        ok &= pd.to_numeric(data[v], errors="coerce").notna().to_numpy()
    if family == "binomial" and np.any((y[ok] < 0) | (y[ok] > 1)):
        raise DesignError(f"outcome {outcome!r} must lie in [0, 1] for a logistic model")
    sub = data.loc[ok]
    levels = {f: sorted(sub[f].astype(str).unique()) for f in factors}
    Xo, names = model_matrix(sub, factors=list(factors), numeric=list(numeric), levels=levels)
    X = np.zeros((design.n, Xo.shape[1]))
    X[ok] = Xo
    w = np.where(ok, design.weights, 0.0)
    if np.any(w < 0) and family == "binomial":
        raise DesignError("negative weights in a logistic model: R's glm refuses ('negative weights not allowed')")
    yv = np.where(ok, y, 0.0)
    beta = np.zeros(X.shape[1])
    if family == "binomial":
        p0 = np.sum(w * yv) / np.sum(w)
        beta[0] = np.log(p0 / (1 - p0))
    converged = False
    for _ in range(maxit):
        mu = _mu(X @ beta, family)
        A = (X * (w * _dmu(mu, family))[:, None]).T @ X
        step = np.linalg.solve(A, X.T @ (w * (yv - mu)))
        beta = beta + step
        if np.max(np.abs(step)) <= tol * (1 + np.max(np.abs(beta))):
            converged = True
            break
    mu = _mu(X @ beta, family)
    A = (X * (w * _dmu(mu, family))[:, None]).T @ X
    Ainv = np.linalg.inv(A)
    U = X * (w * (yv - mu))[:, None]
    V = Ainv @ variance(design, U, present=ok) @ Ainv
    df_res = degf(design, domain=ok) + 1 - X.shape[1]
    se = np.sqrt(np.diag(V))
    t = beta / se
    coef = pd.DataFrame({"term": names, "estimate": beta, "se": se, "t": t, "p": 2 * distributions.t_sf(np.abs(t), df_res)})
    terms = {"(Intercept)": [0]}
    for f in factors:
        terms[f] = [i for i, nm in enumerate(names) if nm.startswith(f) and nm[len(f):] in levels[f][1:]]
    for v in numeric:
        terms[v] = [names.index(v)]
    return {"coefficients": coef, "vcov": V, "names": names, "df_residual": int(df_res), "n": int(ok.sum()),
            "terms": terms, "family": family, "converged": converged}


def reg_term_test(fit: dict, terms, *, df=None) -> dict:
    """Wald test that the coefficients of one or more terms are zero (``regTermTest(model, ~terms)``).

    Parameters
    ----------
    fit : dict
        A fitted model (its coefficients, covariance and residual df).
    terms : str or list of str
        The terms whose coefficients are tested together.
    df : float, optional
        Denominator degrees of freedom; default the model's residual df.

    Returns
    -------
    dict
        ``F`` (chi-square / number of coefficients), ``ndf``, ``ddf``, ``p`` from the F distribution (from
        the chi-square distribution of ``chisq`` when ``df`` is infinite, as R's ``df = Inf``), and ``chisq``.
    """
    terms = [terms] if isinstance(terms, str) else list(terms)
    idx = []
    for t in terms:
        if t not in fit["terms"]:
            raise DesignError(f"term {t!r} is not in the model ({', '.join(fit['terms'])})")
        idx += fit["terms"][t]
    b = fit["coefficients"]["estimate"].to_numpy()[idx]
    V = fit["vcov"][np.ix_(idx, idx)]
    chisq = float(b @ np.linalg.solve(V, b))
    ddf = fit["df_residual"] if df is None else df
    F = chisq / len(idx)
    if np.isinf(ddf):       # R: df = Inf is the chi-square test
        return {"F": F, "ndf": len(idx), "ddf": ddf, "p": float(distributions.chi2_sf(chisq, len(idx))), "chisq": chisq,
                "test": "design-based Wald chi-square (regTermTest, df = Inf)"}
    return {"F": F, "ndf": len(idx), "ddf": ddf, "p": float(distributions.f_sf(F, len(idx), ddf)), "chisq": chisq,
            "test": "design-based Wald F (regTermTest)"}
