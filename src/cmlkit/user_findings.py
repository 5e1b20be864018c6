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


def derive_indicators(data: pd.DataFrame, spec: dict, *, instrument) -> pd.DataFrame:
    """User-level indicator columns from ``spec["indicators"]`` (row-aligned with ``data``)."""
    out = {}
    for name, ind in spec["indicators"].items():
        (kind, rule), = ind["derive"].items()
        out[name] = DERIVATIONS[kind](data.reset_index(drop=True), instrument, rule).to_numpy()
    return pd.DataFrame(out)


def with_columns(design: D.Design, extra: pd.DataFrame) -> D.Design:
    """The design with extra row-aligned columns (replacing same-named ones)."""
    extra = extra.reset_index(drop=True)
    data = pd.concat([design.data.drop(columns=[c for c in extra if c in design.data]), extra], axis=1)
    return D.Design(**{**design.__dict__, "data": data})


def attach_models(design: D.Design, clusters: pd.DataFrame | None, *, column: str = "model") -> D.Design:
    """Add each user's library's governance model (cluster name from notebook 40; "not clustered" when absent)."""
    if clusters is None or not len(clusters):
        model = pd.Series("not clustered", index=design.data.index)
    else:
        name_col = next(c for c in ("name", "cluster_name", "cluster") if c in clusters)
        lookup = clusters.drop_duplicates("library_id").set_index("library_id")[name_col].astype(str)
        model = design.data["library_id"].map(lookup).fillna("not clustered")
    return with_columns(design, pd.DataFrame({column: model.to_numpy()}))


def satisfaction_rows(design: D.Design, spec: dict, *, by=("type", "model"), wave: str = "", k: int | None = None,
                      min_libraries: int = 3) -> pd.DataFrame:
    """Satisfaction estimates overall and by each breakdown, with disclosure control on responses and libraries."""
    parts = [F.estimate_rows(design, name, label=ind["label"], section="users", kind=ind["kind"], by=by, wave=wave)
             for name, ind in spec["indicators"].items()]
    rows = pd.concat(parts, ignore_index=True)
    libs = {b: design.data.groupby(design.data[b].astype(str))["library_id"].nunique() for b in by}
    libs_all = design.data["library_id"].nunique()
    rows["base_libraries"] = [libs_all if b == "all" else int(libs[b].get(str(d), 0)) for b, d in zip(rows["breakdown"], rows["domain"])]
    return publishable(rows, k=k, min_libraries=min_libraries)


def publishable(rows: pd.DataFrame, *, k: int | None = None, min_libraries: int = 3) -> pd.DataFrame:
    """Primary and secondary suppression where a cell has fewer than k responses or fewer than ``min_libraries`` libraries."""
    k = int(disclosure.load_rules()["k"] if k is None else k)
    t = rows.assign(_n=np.where(rows["base_libraries"] >= min_libraries, rows["base_n"], 0),
                    _group=rows["indicator"] + "|" + rows["breakdown"])
    t = disclosure.suppress(t, n_col="_n", k=k, group="_group").drop(columns=["_n", "_group"])
    return t[[c for c in USER_FINDING_COLUMNS if c in t]]


def before_after(design: D.Design, *, question: str = "compare_before", among: dict | None = None, k: int | None = None,
                 min_libraries: int = 3) -> pd.DataFrame:
    """Shares better / same / worse / don't know among users who used the library before the transfer (logit intervals)."""
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


def item_shares(design: D.Design, *, instrument, items=SAT_ITEMS) -> pd.DataFrame:
    """Weighted share of each satisfaction level per item ("don't use" left out), for the Likert figure."""
    return F.likert_shares(design.data, items, instrument=instrument, weights=design.weights)


def before_after_table(ba: pd.DataFrame, *, instrument, question: str = "compare_before",
                       row: str = "Users who used the library before") -> pd.DataFrame:
    """The before/after shares as one row of labelled columns in the questionnaire's order (for a stacked bar)."""
    labels = {c["name"]: c["label"] for c in instrument.choices(question)}
    shares = ba.set_index("answer")["estimate"].reindex(list(labels)).fillna(0.0)
    return shares.rename(labels).to_frame(row).T


def group_rows(rows: pd.DataFrame, indicator: str) -> pd.DataFrame:
    """One indicator's breakdown rows (not "all") with domains named by their breakdown ("Type: CR", "Model: …")."""
    t = rows.loc[(rows["indicator"] == indicator) & (rows["breakdown"] != "all")].copy()
    t["domain"] = t["breakdown"].astype(str).str.capitalize() + ": " + t["domain"].astype(str)
    return t.reset_index(drop=True)


def gap_figure_table(gap: pd.DataFrame, *, labels: dict) -> pd.DataFrame:
    """The gap table indexed by service label, with readable column names for the dumbbell figure."""
    names = gap["service"].map({s: labels.get(f"services_used__{s}", s) for s in gap["service"]})
    return gap.assign(label=names.to_numpy()).set_index("label").rename(
        columns={"users_using": "users who use it", "users_with_offer": "users whose library offers it"})


def used_services(instrument) -> list:
    """The services asked about in ``services_used`` (the choice ``other`` left out), in questionnaire order.

    Parameters
    ----------
    instrument : Instrument
        The user questionnaire.

    Returns
    -------
    list of str
        Choice names (the same names as the library questionnaire's ``services`` choices).
    """
    return [c for c in instrument.choice_names("services_used") if c != "other"]
