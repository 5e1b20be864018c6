"""Stratum sample sizes (proportional or Neyman, largest-remainder rounding) and the inclusion
probabilities they give."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit.errors import SamplingError


def largest_remainder(quotas: pd.Series, n: int, *, minimum: int = 0, caps: pd.Series | None = None) -> pd.Series:
    """Round real quotas to integers summing to ``n`` (Hamilton's largest-remainder rule).

    With ``minimum``, every stratum first gets the minimum (never above its cap) and the rest of
    the sample is shared in proportion to how far each quota exceeds it. Each stratum then gets the
    floor of its quota and the remaining units go to the largest remainders, ties broken by
    stratum name.

    Parameters
    ----------
    quotas : pandas.Series
        Real quotas by stratum.
    n : int
        The total.
    minimum : int, default 0
        Each stratum's minimum.
    caps : pandas.Series, optional
        Each stratum's maximum (its size).

    Returns
    -------
    pandas.Series of int
        Summing to ``n``.
    """
    caps = caps if caps is not None else pd.Series(np.inf, index=quotas.index)
    floor_min = np.minimum(minimum, caps)
    if floor_min.sum() > n:
        raise SamplingError(f"min_per_stratum: {len(quotas)} strata need at least {int(floor_min.sum())} libraries, "
                            f"more than the sample size {n}")
    if minimum > 0:
        # the minimum first, then the rest in proportion to what each stratum's quota exceeds it by
        extra = (quotas - floor_min).clip(lower=0)
        rest = n - floor_min.sum()
        quotas = floor_min + (extra * rest / extra.sum() if extra.sum() > 0 else 0)
    base = np.minimum(np.maximum(np.floor(quotas + 1e-9), floor_min), caps).astype(int)
    rem = (quotas - np.floor(quotas)).where(base < caps, -np.inf)
    order = sorted(quotas.index, key=lambda h: (-rem[h], str(h)))
    left = n - int(base.sum())
    while left > 0:
        progressed = False
        for h in order:
            if left and base[h] < caps[h]:
                base[h] += 1
                left -= 1
                progressed = True
        if not progressed:
            raise SamplingError(f"sample_size {n} is larger than the {int(caps.sum())} eligible libraries")
    return base.astype(int)


def allocate(cands: pd.DataFrame, n: int, *, method: str = "proportional", variable: str | None = None,
             minimum: int = 1) -> pd.Series:
    """Stratum sample sizes: proportional (``N_h``) or Neyman (``N_h S_h``), largest-remainder rounding.

    ``minimum`` applies only when ``n`` is at least the number of strata.

    Parameters
    ----------
    cands : pandas.DataFrame
        The candidates (``stratum``).
    n : int
        The sample size.
    method : {"proportional", "neyman"}, default "proportional"
    variable : str, optional
        The Neyman variable (its SD per stratum).
    minimum : int, default 1
        Each stratum's minimum.

    Returns
    -------
    pandas.Series of int
        Sample size by stratum.
    """
    sizes = cands.groupby("stratum").size()
    if method == "neyman":
        if not variable or variable not in cands:
            raise SamplingError("allocation: neyman needs neyman_variable, a numeric column of the candidates")
        sd = cands.groupby("stratum")[variable].std(ddof=1).fillna(0)
        share = sizes * sd
        share = share if share.sum() > 0 else sizes.astype(float)
    else:
        share = sizes.astype(float)
    quotas = n * share / share.sum()
    minimum = minimum if n >= len(sizes) else 0
    return largest_remainder(quotas, n, minimum=min(minimum, 1), caps=sizes)


def inclusion_probabilities(cands: pd.DataFrame, alloc: pd.Series) -> np.ndarray:
    """``n_h / N_h`` for each candidate (the design's first-order inclusion probabilities).

    Parameters
    ----------
    cands : pandas.DataFrame
        The candidates (``stratum``).
    alloc : pandas.Series
        :func:`allocate` output.

    Returns
    -------
    numpy.ndarray
    """
    sizes = cands.groupby("stratum").size()
    return (cands["stratum"].map(alloc) / cands["stratum"].map(sizes)).to_numpy(dtype=float)
