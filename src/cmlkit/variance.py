"""Vectorised linearisation variances for many estimators at once (sparse influence matrices).

Domain estimation gives one influence column per variable x domain, each non-zero only in its
domain's rows: an n x k sparse matrix with about n non-zeros per variable. Calibration makes the
columns dense (``z - B C``, see :func:`cmlkit.design.step_matrices`), so the dense n x k matrix is
never formed: the PSU totals ``T = A - B~ C`` (A: sparse PSU totals of z; B~: PSU totals of B)
enter the stratum sums of squares through

    sum_c T_ck^2 = sum_c A_ck^2 - 2 sum_j C_jk sum_c B~_cj A_ck + C_k' (B~_h' B~_h) C_k

one sparse product each, with no Python loop over domains or strata. The result is the diagonal of
:func:`cmlkit.design.variance` (same scales, certainty strata, lonely-PSU rules and second stage),
to rounding error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from cmlkit.design import Design, stage_scales, step_matrices


def _indicator(codes: np.ndarray, n_levels: int | None = None) -> sparse.csr_matrix:
    """n x levels sparse 0/1 matrix of integer codes (0..levels-1)."""
    n = len(codes)
    m = int(codes.max()) + 1 if n_levels is None else n_levels
    return sparse.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, m))


def calibration_terms(design: Design, z: sparse.spmatrix) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(B, C) with adjusted influence ``z - B @ C`` for all calibration steps (None when uncalibrated).

    Parameters
    ----------
    design : Design
    z : scipy.sparse matrix
        Influence values, n x k.

    Returns
    -------
    (B, C) : tuple of numpy.ndarray or None
    """
    Bs, Cs = [], []
    for B, L in step_matrices(design):
        C = np.asarray((z.T @ L).T)                     # L' z  (p x k)
        for Bj, Cj in zip(Bs, Cs):
            C = C - (L.T @ Bj) @ Cj
        Bs.append(B)
        Cs.append(C)
    if not Bs:
        return None, None
    return np.hstack(Bs), np.vstack(Cs)


def _stage_diag(design, units, groups, z, B, C, pop_group, *, stage, mult=None, kept=None):
    """Diagonal of one stage's covariance for sparse z adjusted by ``- B C`` (see module docstring)."""
    identity = units is None                                       # each row its own unit
    if identity:
        ui = np.arange(z.shape[0])
        A, first = z, ui
    else:
        uu, ui = np.unique(units, return_inverse=True)
        U = _indicator(ui, len(uu))                                # n x units
        A = (U.T @ z).tocsr()                                      # unit totals (sparse)
        first = pd.Series(np.arange(len(units))).groupby(ui).first().to_numpy()
    g_of_u = groups[first]
    gu, gi, n_g = np.unique(g_of_u, return_inverse=True, return_counts=True)
    first_g = np.unique(gi, return_index=True)[1]
    pop = None if pop_group is None else pop_group[first][first_g]
    scale, centre, ok = stage_scales(design, gu, n_g, pop, stage=stage)
    if mult is not None:
        scale = scale * mult[first][first_g]
    G = _indicator(gi, len(gu)).T.tocsr()                          # groups x units
    S1 = np.asarray((G @ A).todense())
    S2 = np.asarray((G @ A.multiply(A)).todense())
    if B is not None:
        Bt = B if identity else np.asarray(U.T @ B)                # unit totals of B
        p = Bt.shape[1]
        S1 = S1 - (G @ Bt) @ C
        rows = (gi[:, None] * p + np.arange(p)[None, :]).ravel()
        cols = np.repeat(np.arange(len(gi)), p)
        HB = sparse.csr_matrix((Bt.ravel(), (rows, cols)), shape=(len(gu) * p, len(gi)))
        E = np.asarray((HB @ A).todense()).reshape(len(gu), p, -1)
        S2 = S2 - 2 * np.einsum("hjk,jk->hk", E, C)
        Gram = np.stack([G @ (Bt * Bt[:, [j]]) for j in range(p)], axis=1)   # groups x p x p (loop over model columns)
        S2 = S2 + np.einsum("jk,hjl,lk->hk", C, Gram, C)
    ss = S2 - (centre / n_g)[:, None] * S1 ** 2
    use = ok[:, None] & (np.ones_like(ss, dtype=bool) if kept is None else kept)
    v = (np.where(use, scale[:, None], 0.0) * ss).sum(axis=0)
    n_kept = np.full(ss.shape[1], len(gu)) if kept is None else kept.sum(axis=0)
    n_use = use.sum(axis=0)
    if stage == 1:
        v = np.where(n_use < n_kept, np.where(n_use > 0, v * n_kept / np.maximum(n_use, 1), np.nan), v)
    else:
        v = np.where(n_use < n_kept, np.nan, v)
    return v


def diag_variance(design: Design, z: sparse.spmatrix, *, present: sparse.spmatrix | None = None) -> np.ndarray:
    """Variances (the diagonal of :func:`cmlkit.design.variance`) for the columns of sparse ``z`` (n x k).

    Parameters
    ----------
    design : Design
    z : scipy.sparse matrix
        Influence values, one column per estimate.
    present : scipy.sparse matrix, optional
        n x k, non-zero where a row is kept for that column: gives, for an uncalibrated design under
        ``lonely_psu="average"``, the strata R counts after subsetting.

    Returns
    -------
    numpy.ndarray
        k variances.
    """
    z = sparse.csr_matrix(z)
    B, C = calibration_terms(design, z)
    st, cl = design.stratum_codes(), design.psu_codes()
    kept = kept2 = None
    two_stage = design.ssu is not None and design.pop_ssu is not None and design.pop_psu is not None
    if present is not None and design.lonely_psu == "average" and not design.calibrated:
        present = sparse.csr_matrix(present)
        su, si = np.unique(st, return_inverse=True)
        kept = np.asarray((_indicator(si, len(su)).T @ present).todense()) > 0
        if two_stage:       # the PSUs still in each subset (R counts only those at stage 2)
            cu, ci = np.unique(cl, return_inverse=True)
            kept2 = np.asarray((_indicator(ci, len(cu)).T @ present).todense()) > 0
    v = _stage_diag(design, design.psu, st, z, B, C, design.pop_psu, stage=1, kept=kept)
    if two_stage:
        n_h = pd.Series(cl).groupby(st).transform("nunique").to_numpy()
        v = v + _stage_diag(design, design.ssu, cl, z, B, C, design.pop_ssu, stage=2, mult=n_h / design.pop_psu, kept=kept2)
    return v
