"""Change estimates on synthetic panel waves whose true change is known (tests and the coverage benchmark).

:func:`panel_populations` builds a synthetic population, moves it a year on with the planted changes of
:mod:`cmlkit.synthetic.panel` and returns the true change of every headline indicator. :func:`estimate_change`
draws who responds in each wave (previous respondents more often), weights each wave to its own frame, stacks
the waves and estimates every change with library clusters (:mod:`cmlkit.change`). Repeating the response draw
on fixed populations gives the coverage of the change intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import change as CH
from cmlkit import indicators as IND
from cmlkit import nonresponse as NR
from cmlkit import synthetic as syn
from cmlkit.synthetic import panel as SP
from cmlkit import waves

TYPE_BREAKDOWN = {"frame_code": "type"}


def panel_populations(seed: int, *, n_community: int = 480, wave_a: str | None = None, wave_b: str | None = None,
                      spec: dict | None = None) -> dict:
    """Two waves' populations of one synthetic panel with their frames, scopes and the true changes.

    Parameters
    ----------
    seed : int
    n_community : int, default 480
    wave_a, wave_b : str, optional
        Default the first two waves.
    spec : dict, optional
        The indicator specification.

    Returns
    -------
    dict
        ``waves, inst_a, inst_b, spec`` (headline indicators on the comparable basis), ``scope_a, scope_b,
        pop_a, pop_b, truth`` (:func:`cmlkit.synthetic.panel.change_truth`), ``planted``.
    """
    wave_a = wave_a or waves.first_wave()
    later = [w for w in waves.all_waves() if waves.parse_wave(w) > waves.parse_wave(wave_a)]
    wave_b = wave_b or later[0]
    inst_a = waves.instruments_by_unit(wave_a)["library"]
    inst_b = waves.instruments_by_unit(wave_b)["library"]
    rng = np.random.default_rng(seed)
    frame_a = syn.make_frame(n_community, random_state=rng)
    scope_a = syn.in_scope(frame_a)
    pop_a = syn.simulate_libraries(scope_a, wave_year=waves.wave_year(wave_a), random_state=rng)
    frame_b, _ = SP.advance_frame(frame_a, wave_year=waves.wave_year(wave_b), rates=SP.transition_rates(frame_a),
                                  random_state=rng)
    scope_b = syn.in_scope(frame_b)
    pop_b, planted = SP.advance_population(pop_a, scope_b, inst=inst_a, wave_year=waves.wave_year(wave_b), random_state=rng)
    spec = spec or IND.load_spec()
    common = {"indicators": {k: {**v, "derive": SP.comparable_derive(v["derive"], inst_a, inst_b)} for k, v in spec["indicators"].items()}}
    truth = SP.change_truth(pop_a, pop_b, inst_a=inst_a, inst_b=inst_b, spec=spec)
    return {"waves": [wave_a, wave_b], "inst_a": inst_a, "inst_b": inst_b, "spec": common, "frame_a": frame_a,
            "frame_b": frame_b, "scope_a": scope_a,
            "scope_b": scope_b, "pop_a": pop_a, "pop_b": pop_b, "truth": truth, "planted": planted}


def draw_waves(panel: dict, *, random_state=0, response_rate: float = 0.5, method: str = "rake",
               auxiliaries=("hours",)) -> list:
    """Who responds in each wave (previous respondents more often) and each wave's weighted responses.

    Returns a list of ``(wave, weighted responses, scope)``; responses keep the earlier instrument's coding.

    Parameters
    ----------
    panel : dict
        :func:`panel_populations` output.
    random_state : int, default 0
    response_rate : float, default 0.5
    method : str, default "rake"
    auxiliaries : tuple of str, default ("hours",)

    Returns
    -------
    list of tuple
    """
    rng = np.random.default_rng(random_state)
    wa, wb = panel["waves"]
    pa = syn.response_propensity(panel["scope_a"], random_state=rng, target=response_rate)
    resp_a = rng.random(len(panel["pop_a"])) < pa
    before = pd.Series(resp_a, index=panel["pop_a"]["library_id"]).reindex(panel["pop_b"]["library_id"]).astype("boolean")
    pb = SP.panel_propensity(panel["scope_b"], panel["pop_b"], before.to_numpy(), response_rate=response_rate, random_state=rng)
    resp_b = rng.random(len(panel["pop_b"])) < pb
    out = []
    for wave, pop, resp, scope in ((wa, panel["pop_a"], resp_a, panel["scope_a"]), (wb, panel["pop_b"], resp_b, panel["scope_b"])):
        r = pop.loc[resp].assign(response_id=lambda d: d["library_id"]).reset_index(drop=True)
        des, _ = NR.weight_responses(r, scope, method=method, auxiliaries=auxiliaries)
        out.append((wave, des.data.assign(weight=des.weights), scope))
    return out


def estimate_change(panel: dict, *, random_state=0, response_rate: float = 0.5, method: str = "rake",
                    auxiliaries=("hours",), by=("type", "region")) -> pd.DataFrame:
    """One response draw, weighting and change estimation; the change table merged with the truth.

    Parameters
    ----------
    panel : dict
        :func:`panel_populations` output.
    random_state : int, default 0
    response_rate : float, default 0.5
    method : str, default "rake"
    auxiliaries : tuple of str, default ("hours",)
    by : tuple of str, default ("type", "region")

    Returns
    -------
    pandas.DataFrame
    """
    wa, wb = panel["waves"]
    parts = []
    for wave, data, _ in draw_waves(panel, random_state=random_state, response_rate=response_rate, method=method,
                                    auxiliaries=auxiliaries):
        vals = IND.compute(data, panel["spec"], inst=panel["inst_a"])
        parts.append(pd.concat([data[["library_id", "region", "type", "weight"]].assign(wave=wave), vals], axis=1))
    stacked = pd.concat(parts, ignore_index=True)
    est = CH.change_estimates(stacked, list(panel["spec"]["indicators"]), waves=[wa, wb], by=by)
    out = est.merge(panel["truth"][["indicator", "breakdown", "domain", "change"]].rename(columns={"change": "true_change"}),
                    on=["indicator", "breakdown", "domain"], how="left")
    out["covered"] = (out["ci_low"] <= out["true_change"]) & (out["true_change"] <= out["ci_high"])
    return out
