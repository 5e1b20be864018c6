"""Volunteer findings: the satisfaction scale's reliability, library means, the training gap, the age profile.

The computations behind notebook 31 (which only narrates): each function takes the linked volunteer
responses or their design and returns a table or record ready to write.
"""

from __future__ import annotations

import pandas as pd

from cmlkit import findings, indicators

LIBRARY_MEAN_MIN = 3
"""Volunteer responses a library needs before its volunteers' mean satisfaction is used."""

AGE_BANDS = ("vol_age_under25", "vol_age_25_44", "vol_age_45_59", "vol_age_60_74", "vol_age_75plus")
"""The library questionnaire's volunteer counts by age band, youngest first."""


def satisfaction_scale(vol: pd.DataFrame, scale: dict, *, inst) -> tuple[pd.DataFrame, dict, dict, dict]:
    """Score the satisfaction scale and its reliability, weighted and unweighted.

    Parameters
    ----------
    vol : pandas.DataFrame
        Volunteer responses linked to libraries (``weight`` missing where the library did not answer).
    scale : dict
        The scale's definition (``items``, ``min_items``) from ``research/indicators.yml``.
    inst : Instrument
        The volunteer questionnaire (choice scores).

    Returns
    -------
    (vol, alpha_weighted, alpha_unweighted, record)
        The responses with their scale score (``satisfaction``), :func:`cmlkit.indicators.cronbach_alpha`
        weighted and unweighted,
        and the record written to ``volunteer_scale.json``.
    """
    items = indicators.item_scores(vol, scale["items"], inst=inst)
    score = indicators.scale_score(items, min_items=int(scale["min_items"]))
    has_w = vol["weight"].notna().to_numpy()
    alpha_w = indicators.cronbach_alpha(items.loc[has_w], vol.loc[has_w, "weight"])
    alpha_u = indicators.cronbach_alpha(items)
    record = {"scale": "volunteer_satisfaction", "items": scale["items"], "alpha_unweighted": alpha_u,
              "alpha_weighted": alpha_w, "responses": len(vol), "linked_to_responding_library": int(has_w.sum())}
    return vol.assign(satisfaction=score), alpha_w, alpha_u, record


def item_rest(alpha_w: dict, alpha_u: dict) -> pd.DataFrame:
    """Item-rest correlations of the scale, unweighted and weighted, side by side.

    Parameters
    ----------
    alpha_w, alpha_u : dict
        :func:`cmlkit.indicators.cronbach_alpha`, weighted and unweighted.

    Returns
    -------
    pandas.DataFrame
        One row per item.
    """
    return pd.DataFrame({"item_rest_unweighted": alpha_u["item_rest"], "item_rest_weighted": alpha_w["item_rest"]})


def per_library(vol: pd.DataFrame) -> pd.DataFrame:
    """Volunteer responses and mean satisfaction per library (responses linked to a library only).

    Parameters
    ----------
    vol : pandas.DataFrame
        Scored volunteer responses (``library_id``, ``response_id``, ``satisfaction``).

    Returns
    -------
    pandas.DataFrame
        Indexed by library: ``volunteer_responses, satisfaction``.
    """
    return vol.loc[vol["library_id"].notna()].groupby("library_id").agg(
        volunteer_responses=("response_id", "size"), satisfaction=("satisfaction", "mean"))


def per_library_summary(libs: pd.DataFrame) -> pd.DataFrame:
    """Distribution of volunteer responses per library (count, mean, quartiles), one row.

    Parameters
    ----------
    libs : pandas.DataFrame
        :func:`per_library`.

    Returns
    -------
    pandas.DataFrame
        One row, ``statistic`` first.
    """
    summary = libs["volunteer_responses"].describe().rename("volunteer responses per library").to_frame().T
    return summary.reset_index(names="statistic")


def library_mean_section(weighted: pd.DataFrame, values: pd.DataFrame, libs: pd.DataFrame, spec: dict,
                         *, min_responses: int = LIBRARY_MEAN_MIN):
    """The volunteers section's design and specification, with the library mean of volunteer satisfaction.

    Parameters
    ----------
    weighted, values : pandas.DataFrame
        The weighted library responses and their indicators (rows alike).
    libs : pandas.DataFrame
        :func:`per_library`.
    spec : dict
        The indicator specification.
    min_responses : int, default :data:`LIBRARY_MEAN_MIN`
        Libraries with fewer volunteer responses get no library mean.

    Returns
    -------
    (design, spec)
        The library design with ``volunteer_satisfaction_library`` among its variables, and the
        specification of the volunteers section with that indicator added.
    """
    n = weighted["library_id"].map(libs["volunteer_responses"]).fillna(0)
    lib_sat = weighted["library_id"].map(libs["satisfaction"]).where(n >= min_responses)
    design = findings.design_of(weighted, data=values.assign(volunteer_satisfaction_library=lib_sat.to_numpy()))
    section = {n_: i for n_, i in spec["indicators"].items() if i["section"] == "volunteers"}
    section["volunteer_satisfaction_library"] = {
        "label": f"Volunteer satisfaction, library mean of its volunteers (libraries with {min_responses}+ volunteer responses)",
        "section": "volunteers", "kind": "mean", "unit": "score"}
    return design, {"indicators": section}


def training_gap(vdesign, topics) -> pd.DataFrame:
    """Weighted share of volunteers who received, and who need, training in each topic, and the gap.

    The gap is needing training in a topic without having received it (a proportion with its
    interval, :func:`cmlkit.estimates.ci_proportion`). Adds the ``gap__<topic>`` 0/1 variables to
    ``vdesign.data``.

    Parameters
    ----------
    vdesign : Design
        The volunteer design (:func:`cmlkit.volunteer_weights.volunteer_design`).
    topics : list of str
        Training topics (``training_needed__<topic>`` and ``training_received__<topic>`` columns).

    Returns
    -------
    pandas.DataFrame
        Indexed by topic: ``received, needed, gap_estimate, gap_ci_low, gap_ci_high, gap_n``.
    """
    data = vdesign.data
    need = data[[f"training_needed__{t}" for t in topics]].to_numpy()
    got = data[[f"training_received__{t}" for t in topics]].to_numpy()
    gaps = pd.DataFrame(((need == 1) & (got == 0)).astype(float), index=data.index, columns=[f"gap__{t}" for t in topics])
    for col in gaps:
        data[col] = gaps[col]
    rows = {t: {"received": findings.E.mean(vdesign, f"training_received__{t}")["estimate"],
                "needed": findings.E.mean(vdesign, f"training_needed__{t}")["estimate"],
                **{f"gap_{k}": v for k, v in findings.E.ci_proportion(vdesign, f"gap__{t}").items()
                   if k in ("estimate", "ci_low", "ci_high", "n")}} for t in topics}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("topic")


def with_topic_labels(gap: pd.DataFrame, labels: dict) -> pd.DataFrame:
    """:func:`training_gap` indexed by the instrument's labels of the topics (the topic id where none).

    Parameters
    ----------
    gap : pandas.DataFrame
        :func:`training_gap`.
    labels : dict
        Variable -> label.

    Returns
    -------
    pandas.DataFrame
    """
    return gap.rename(index={t: labels.get(f"training_needed__{t}", t) for t in gap.index})


def age_profile(design, vdesign, inst, labels: dict) -> pd.DataFrame:
    """Volunteer ages: the libraries' reported counts (weighted shares) beside the volunteers' own answers.

    Parameters
    ----------
    design : Design
        The library design (its data holds the ``vol_age_*`` counts).
    vdesign : Design
        The volunteer design (``age_band``).
    inst : Instrument
        The volunteer questionnaire (order of the age bands).
    labels : dict
        Variable -> label.

    Returns
    -------
    pandas.DataFrame
        One row per age band, youngest first.
    """
    bands = list(AGE_BANDS)
    reported = findings.weighted_shares(design, bands).iloc[0]
    reported = reported / reported.sum()
    answered = vdesign.data["age_band"].value_counts(normalize=True)
    own = answered.reindex([c["name"] for c in inst.choices("age_band")][:len(bands)]).fillna(0.0)
    return pd.DataFrame({"libraries' reported volunteers": reported.to_numpy(), "responding volunteers": own.to_numpy()},
                        index=[labels[b] for b in bands])
