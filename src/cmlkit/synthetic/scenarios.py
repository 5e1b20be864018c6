"""Generator scenarios for validating the risk index without circularity.

In the default generator one latent financial health drives reserves, confidence, barriers, the
business plan and plans to close, *and* the truth the index is scored against, so a high AUC there
shows self-consistency more than validity. :func:`non_circular` changes that, after the default
draws (so the default output is unchanged):

- **no-signal indicators**: the answers behind ``barriers_reported``, ``no_business_plan``,
  ``volunteers_per_hour``, ``volunteers_75plus`` and ``lease_ending_soon`` are permuted across
  libraries, so they keep their distributions but carry no information about health or the outcome;
- **weaker measures**: months of reserves and confidence are redrawn as noisier measures of
  health (reserves ``exp(1.3 + 0.35 h + N(0, 0.8))``, confidence with noise SD 1.2);
- **a signal the index does not see**: ``true_hidden_pressure`` (15% of libraries, e.g. a council
  about to withdraw its support, unknown to the respondent) raises both outcomes;
- outcomes: ``true_closes_3y ~ Bernoulli(logistic(-3.0 - 1.0 h + 1.6 hidden))`` and
  ``true_at_risk = -h + 1.5 hidden + N(0, 0.5) > 1.2``.

The scenario is chosen with ``simulate_libraries(..., scenario="non_circular")``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NO_SIGNAL_COLUMNS = {
    "barriers_reported": ["barriers__funding", "barriers__recruiting_volunteers", "barriers__retaining_volunteers",
                          "barriers__building", "barriers__it_systems", "barriers__council_relationship",
                          "barriers__professional_support", "barriers__insurance_legal", "barriers__other", "barriers_other"],
    "no_business_plan": ["business_plan"],
    "volunteers_per_hour": ["volunteers_active", "volunteer_hours_week", "vol_age_under25", "vol_age_25_44",
                            "vol_age_45_59", "vol_age_60_74", "vol_age_75plus", "true_share_75plus"],
    "lease_ending_soon": ["tenure", "tenure_other", "lease_end_year"],
}
NO_SIGNAL = ("barriers_reported", "no_business_plan", "volunteers_per_hour", "volunteers_75plus", "lease_ending_soon")
HIDDEN_SHARE = 0.15


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _ordinal(latent, cuts, names):
    return np.array(names, dtype=object)[np.searchsorted(np.asarray(cuts), latent)]


def non_circular(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Apply the non-circular scenario to simulated libraries (see the module docstring).

    Parameters
    ----------
    df : pandas.DataFrame
        Simulated libraries.
    rng : numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
    """
    out = df.copy()
    n = len(out)
    h = out["health"].to_numpy(dtype=float)
    for cols in NO_SIGNAL_COLUMNS.values():        # volunteers and their ages move together (per hour and 75+)
        perm = rng.permutation(n)
        cols = [c for c in cols if c in out]
        out[cols] = out[cols].iloc[perm].to_numpy()
    exp_total = out["expenditure_total"].to_numpy(dtype=float)
    months = np.exp(1.3 + 0.35 * h + rng.normal(0, 0.8, n))
    reserves = np.round(exp_total / 12 * months, -1)
    out["reserves"] = np.where(out["reserves"].isna(), np.nan, reserves)
    out["true_months_reserves"] = reserves / np.maximum(exp_total / 12, 1)
    conf = ["very_unconfident", "fairly_unconfident", "neither", "fairly_confident", "very_confident"]
    for col, shift in [("conf_1yr", 1.0), ("conf_3yr", 0.3), ("conf_5yr", -0.2)]:
        out[col] = _ordinal(h + shift + rng.normal(0, 1.2, n), [-1.5, -0.7, 0.0, 0.9], conf)
    hidden = rng.random(n) < HIDDEN_SHARE
    out["true_hidden_pressure"] = hidden
    out["true_closes_3y"] = rng.random(n) < _logistic(-3.0 - 1.0 * h + 1.6 * hidden)
    out["true_at_risk"] = (-h + 1.5 * hidden + rng.normal(0, 0.5, n)) > 1.2
    return out


SCENARIOS = {"default": None, "non_circular": non_circular}


def apply_scenario(df: pd.DataFrame, scenario: str, rng: np.random.Generator) -> pd.DataFrame:
    """Apply a named scenario (``default`` leaves the draws as they are).

    Parameters
    ----------
    df : pandas.DataFrame
        Simulated libraries.
    scenario : str
        A scenario name.
    rng : numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {sorted(SCENARIOS)}")
    fn = SCENARIOS[scenario]
    return df if fn is None else fn(df, rng)
