"""Findings of the library users' survey: satisfaction, before/after, services used against services offered.

Every estimate uses the two-stage user design (:mod:`cmlkit.user_weights`, replayed by
:func:`cmlkit.weighted.load_weighted`). Disclosure control as elsewhere, plus one rule for clustered data: a
domain is published only when it holds at least ``k`` responses **and** at least ``min_libraries`` libraries, so
no library's users are ever shown on their own (a domain of one or two libraries is one library's users in all but
name). User comments and contact details never enter these tables: only closed answers are read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import design as D
from cmlkit import disclosure
from cmlkit import estimates as E
from cmlkit import findings as F

SAT_ITEMS = ["sat_overall", "sat_hours", "sat_stock", "sat_digital", "sat_events", "sat_staff"]
USER_FINDING_COLUMNS = ["finding_id", "section", "indicator", "label", "breakdown", "domain", "estimate", "ci_low", "ci_high",
                        "method", "base_n", "base_libraries", "suppressed", "suppression", "wave"]


def _scores(values: pd.Series, inst, qid: str) -> pd.Series:
    scores = {c["name"]: float(c["score"]) for c in inst.choices(qid) if c.get("score") is not None}
    return values.astype("string").map(scores).astype(float)


def _derive_score(data, inst, rule):
    return _scores(data[rule], inst, rule)


def _derive_score_at_least(data, inst, rule):
    s = _scores(data[rule["question"]], inst, rule["question"])
    return (s >= float(rule["min"])).astype(float).where(s.notna())


DERIVATIONS = {"score": _derive_score, "score_at_least": _derive_score_at_least}


def derive_indicators(data: pd.DataFrame, spec: dict, *, inst) -> pd.DataFrame:
    """User-level indicator columns from ``spec["indicators"]`` (row-aligned with ``data``).

    Parameters
    ----------
    data : pandas.DataFrame
        Clean user responses.
    spec : dict
        The research specification; each entry of ``spec["indicators"]`` has ``derive: {kind: rule}``
        with kind ``score`` (rule: a question; the indicator is the score of its answer) or
        ``score_at_least`` (rule: ``{question, min}``; 1.0 when the score is at least ``min``, else 0.0).
    inst : Instrument
        Where each choice's ``score`` comes from; answers without a score give NaN.

    Returns
    -------
    pandas.DataFrame
        One float column per indicator, in the specification's order, on a fresh ``RangeIndex``.

    Raises
    ------
    KeyError
        When an indicator's ``derive`` names an unknown kind, or a question is not a column of ``data``.
    """
    out = {}
    for name, ind in spec["indicators"].items():
        (kind, rule), = ind["derive"].items()
        out[name] = DERIVATIONS[kind](data.reset_index(drop=True), inst, rule).to_numpy()
    return pd.DataFrame(out)


def with_columns(design: D.Design, extra: pd.DataFrame) -> D.Design:
    """The design with extra row-aligned columns (replacing same-named ones).

    Parameters
    ----------
    design : Design
        The survey design; left unchanged.
    extra : pandas.DataFrame
        Columns aligned by position with ``design.data`` (its index is ignored).

    Returns
    -------
    Design
        A new design whose ``data`` is ``design.data`` without the columns ``extra`` replaces, then
        ``extra``'s columns appended; every other field is the same.
    """
    extra = extra.reset_index(drop=True)
    data = pd.concat([design.data.drop(columns=[c for c in extra if c in design.data]), extra], axis=1)
    return D.Design(**{**design.__dict__, "data": data})


def attach_models(design: D.Design, clusters: pd.DataFrame | None, *, column: str = "model") -> D.Design:
    """Add each user's library's governance model (cluster name from notebook 40; "not clustered" when absent).

    Parameters
    ----------
    design : Design
        The users' design (``library_id`` in its data).
    clusters : pandas.DataFrame or None
        ``library_id`` and the cluster's name in the first of the columns ``name``, ``cluster_name``,
        ``cluster`` it has (the first row per library is used). None or empty: every user is
        "not clustered".
    column : str, default "model"
        The column added (replaced when present).

    Returns
    -------
    Design
        The design with ``column``: the model name as a string, "not clustered" for libraries without one.

    Raises
    ------
    StopIteration
        When ``clusters`` has rows but none of the name columns.
    """
    if clusters is None or not len(clusters):
        model = pd.Series("not clustered", index=design.data.index)
    else:
        name_col = next(c for c in ("name", "cluster_name", "cluster") if c in clusters)
        lookup = clusters.drop_duplicates("library_id").set_index("library_id")[name_col].astype(str)
        model = design.data["library_id"].map(lookup).fillna("not clustered")
    return with_columns(design, pd.DataFrame({column: model.to_numpy()}))


def satisfaction_rows(design: D.Design, spec: dict, *, by=("type", "model"), wave: str = "", k: int | None = None,
                      min_libraries: int = 3) -> pd.DataFrame:
    """Satisfaction estimates overall and by each breakdown, with disclosure control on responses and libraries.

    Parameters
    ----------
    design : Design
        The users' design, with the indicator columns (:func:`derive_indicators`), ``library_id`` and the
        breakdown columns.
    spec : dict
        The research specification; each entry of ``spec["indicators"]`` gives its ``label`` and ``kind``
        (``mean`` or ``proportion``, :func:`cmlkit.findings.estimate_rows`).
    by : tuple of str, default ("type", "model")
        Breakdowns.
    wave : str, default ""
        Written to the ``wave`` column.
    k : int, optional
        Smallest publishable base (default None: ``k`` of ``research/disclosure.yml``).
    min_libraries : int, default 3
        Smallest number of libraries a published cell may hold.

    Returns
    -------
    pandas.DataFrame
        One row per indicator overall and per domain of each breakdown, columns
        :data:`USER_FINDING_COLUMNS`: ``base_libraries`` is the number of distinct libraries in the domain
        (of all users for the ``all`` row), and suppressed rows have no estimate or interval (see
        :func:`publishable`).
    """
    parts = [F.estimate_rows(design, name, label=ind["label"], section="users", kind=ind["kind"], by=by, wave=wave)
             for name, ind in spec["indicators"].items()]
    rows = pd.concat(parts, ignore_index=True)
    libs = {b: design.data.groupby(design.data[b].astype(str))["library_id"].nunique() for b in by}
    libs_all = design.data["library_id"].nunique()
    rows["base_libraries"] = [libs_all if b == "all" else int(libs[b].get(str(d), 0)) for b, d in zip(rows["breakdown"], rows["domain"])]
    return publishable(rows, k=k, min_libraries=min_libraries)


def publishable(rows: pd.DataFrame, *, k: int | None = None, min_libraries: int = 3) -> pd.DataFrame:
    """Primary and secondary suppression where a cell has fewer than k responses or fewer than ``min_libraries`` libraries.

    Parameters
    ----------
    rows : pandas.DataFrame
        Estimate rows with ``indicator``, ``breakdown``, ``base_n``, ``base_libraries`` and, for shares,
        ``numerator_n``.
    k : int, optional
        Smallest publishable base (default None: ``k`` of ``research/disclosure.yml``).
    min_libraries : int, default 3
        A cell with fewer libraries is suppressed as if its base were 0.

    Returns
    -------
    pandas.DataFrame
        The rows after :func:`cmlkit.disclosure.suppress` (primary, numerator when ``numerator_n`` is
        present, and secondary suppression within each indicator x breakdown), ``suppressed`` and
        ``suppression`` added, keeping only the columns of :data:`USER_FINDING_COLUMNS` it has, in that order.
    """
    k = int(disclosure.load_rules()["k"] if k is None else k)
    t = rows.assign(_n=np.where(rows["base_libraries"] >= min_libraries, rows["base_n"], 0),
                    _group=rows["indicator"] + "|" + rows["breakdown"])
    t = disclosure.suppress(t, n_col="_n", k=k, group="_group").drop(columns=["_n", "_group"])
    return t[[c for c in USER_FINDING_COLUMNS if c in t]]


def before_after(design: D.Design, *, question: str = "compare_before", among: dict | None = None, k: int | None = None,
                 min_libraries: int = 3) -> pd.DataFrame:
    """Shares better / same / worse / don't know among users who used the library before the transfer (logit intervals).

    Parameters
    ----------
    design : Design
        The users' design.
    question : str, default "compare_before"
        The categorical question; users without an answer are left out of the base.
    among : dict, optional
        ``column -> value`` conditions defining the domain, all of which must hold (default None:
        ``{"used_before": "yes"}``).
    k : int, optional
        Smallest publishable base (default None: ``k`` of ``research/disclosure.yml``).
    min_libraries : int, default 3
        Smallest number of libraries the answering users may come from.

    Returns
    -------
    pandas.DataFrame
        One row per answer found in ``question`` (anywhere in the data), sorted by name: ``answer,
        estimate, ci_low, ci_high, base_n`` (users in the domain who answered), ``base_libraries``
        (their libraries), ``suppressed, suppression`` (:func:`publishable`).
    """
    among = among or {"used_before": "yes"}
    dom = np.ones(design.n, dtype=bool)
    for col, val in among.items():
        dom &= (design.data[col].astype("string") == val).fillna(False).to_numpy()
    t = E.proportions(design, question, domain=dom)
    answered = dom & design.data[question].notna().to_numpy()
    t = t.rename(columns={"value": "answer", "n": "base_n"})
    t["base_libraries"] = int(design.data.loc[answered, "library_id"].nunique())
    t["answered"] = int(answered.sum())
    t = t.assign(indicator=question, breakdown="among prior users")
    t = publishable(t.assign(label=t["answer"], section="users", finding_id="", domain=t["answer"], method="", wave=""),
                    k=k, min_libraries=min_libraries).rename(columns={"domain": "answer"})
    return t[["answer", "estimate", "ci_low", "ci_high", "base_n", "base_libraries", "suppressed", "suppression"]].reset_index(drop=True)


def service_gap(user_design: D.Design, library_design: D.Design, services: list) -> pd.DataFrame:
    """Services used (users) against services offered (libraries), one row per service.

    Columns: ``libraries_offering`` (weighted share of libraries that say they offer it, library design),
    ``users_with_offer`` (share of users whose library offers it), ``users_using`` (share of users who used it
    in the last 12 months), ``uptake_where_offered`` (users using it among those whose library offers it) and
    ``used_not_offered`` (users reporting use where their library says it does not offer it: a sign of
    misunderstanding or an offer the library did not report). All from the user design, except the first.

    Parameters
    ----------
    user_design : Design
        The users' design, with ``library_id`` and ``services_used__<service>`` (0/1).
    library_design : Design
        The libraries' design, with ``library_id`` and ``services__<service>`` (0/1); a user's library
        offer is read from the first row of their library.
    services : list of str
        The services, in the order of the rows.

    Returns
    -------
    pandas.DataFrame
        ``service`` and the five shares above, plus ``users_n``: the users with an answer on any of the
        services (the same in every row).
    """
    lib = library_design.data.drop_duplicates("library_id").set_index("library_id")
    offered_cols = [f"services__{s}" for s in services]
    offer = pd.DataFrame({s: user_design.data["library_id"].map(lib[f"services__{s}"]).astype(float).to_numpy() for s in services})
    used = pd.DataFrame({s: user_design.data[f"services_used__{s}"].astype(float).to_numpy() for s in services})
    cols = {}
    for s in services:
        cols[f"_offer__{s}"] = offer[s]
        cols[f"_used__{s}"] = used[s]
        cols[f"_uptake__{s}"] = used[s].where(offer[s] == 1)
        cols[f"_unoffered__{s}"] = used[s].where(offer[s] == 0)
    des = with_columns(user_design, pd.DataFrame(cols))
    est = F.weighted_shares(des, list(cols)).iloc[0]
    lib_share = F.weighted_shares(library_design, offered_cols).iloc[0]
    out = pd.DataFrame({"service": services,
                        "libraries_offering": [lib_share[f"services__{s}"] for s in services],
                        "users_with_offer": [est[f"_offer__{s}"] for s in services],
                        "users_using": [est[f"_used__{s}"] for s in services],
                        "uptake_where_offered": [est[f"_uptake__{s}"] for s in services],
                        "used_not_offered": [est[f"_unoffered__{s}"] for s in services]})
    out["users_n"] = int(des.data[[f"_used__{s}" for s in services]].notna().any(axis=1).sum())
    return out


def item_shares(design: D.Design, *, inst, items=SAT_ITEMS) -> pd.DataFrame:
    """Weighted share of each satisfaction level per item ("don't use" left out), for the Likert figure.

    Parameters
    ----------
    design : Design
        The users' design (its weights are used).
    inst : Instrument
        Where each item's levels, labels and scores come from.
    items : list of str, default SAT_ITEMS
        The satisfaction questions.

    Returns
    -------
    pandas.DataFrame
        One row per item; one column per scored level (by label, in the questionnaire's order), the shares
        among users with a scored answer, and ``n``, their unweighted count (:func:`cmlkit.findings.likert_shares`).
    """
    return F.likert_shares(design.data, items, inst=inst, weights=design.weights)


def before_after_table(ba: pd.DataFrame, *, inst, question: str = "compare_before",
                       row: str = "Users who used the library before") -> pd.DataFrame:
    """The before/after shares as one row of labelled columns in the questionnaire's order (for a stacked bar).

    Parameters
    ----------
    ba : pandas.DataFrame
        The output of :func:`before_after` (``answer``, ``estimate``).
    inst : Instrument
        Where the choices of ``question`` and their labels come from.
    question : str, default "compare_before"
        The question whose choices give the columns.
    row : str, default "Users who used the library before"
        The row's label (the index).

    Returns
    -------
    pandas.DataFrame
        One row; one column per choice label, in the questionnaire's order, holding its estimate (0.0 for
        a choice nobody gave and for a suppressed one).
    """
    labels = {c["name"]: c["label"] for c in inst.choices(question)}
    shares = ba.set_index("answer")["estimate"].reindex(list(labels)).fillna(0.0)
    return shares.rename(labels).to_frame(row).T


def group_rows(rows: pd.DataFrame, indicator: str) -> pd.DataFrame:
    """One indicator's breakdown rows (not "all") with domains named by their breakdown ("Type: CR", "Model: …").

    Parameters
    ----------
    rows : pandas.DataFrame
        Estimate rows, e.g. from :func:`satisfaction_rows`.
    indicator : str
        The indicator to keep.

    Returns
    -------
    pandas.DataFrame
        A copy of its rows whose ``breakdown`` is not ``all``, ``domain`` rewritten as
        ``"<Breakdown capitalised>: <domain>"``, on a fresh ``RangeIndex``.
    """
    t = rows.loc[(rows["indicator"] == indicator) & (rows["breakdown"] != "all")].copy()
    t["domain"] = t["breakdown"].astype(str).str.capitalize() + ": " + t["domain"].astype(str)
    return t.reset_index(drop=True)


def gap_figure_table(gap: pd.DataFrame, *, labels: dict) -> pd.DataFrame:
    """The gap table indexed by service label, with readable column names for the dumbbell figure.

    Parameters
    ----------
    gap : pandas.DataFrame
        The output of :func:`service_gap`.
    labels : dict
        Column name -> label; each service is labelled by ``labels["services_used__<service>"]``, else
        keeps its name.

    Returns
    -------
    pandas.DataFrame
        ``gap`` indexed by ``label``, with ``users_using`` renamed ``"users who use it"`` and
        ``users_with_offer`` renamed ``"users whose library offers it"``; other columns unchanged.
    """
    names = gap["service"].map({s: labels.get(f"services_used__{s}", s) for s in gap["service"]})
    return gap.assign(label=names.to_numpy()).set_index("label").rename(
        columns={"users_using": "users who use it", "users_with_offer": "users whose library offers it"})


def used_services(inst) -> list:
    """The services asked about in ``services_used`` (the choice ``other`` left out), in questionnaire order.

    Parameters
    ----------
    inst : Instrument
        The user questionnaire.

    Returns
    -------
    list of str
        Choice names (the same names as the library questionnaire's ``services`` choices).
    """
    return [c for c in inst.choice_names("services_used") if c != "other"]
