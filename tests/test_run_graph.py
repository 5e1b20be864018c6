"""The order in which a run starts the steps that are ready."""

from cmlkit import run_graph as G


def test_start_order_puts_the_head_of_the_critical_path_first():
    steps = [{"name": "clean", "needs": []}, {"name": "weight", "needs": ["clean"]},
             {"name": "describe", "needs": ["weight"]}, {"name": "cluster", "needs": ["weight"]},
             {"name": "sample", "needs": ["cluster"]}, {"name": "risk", "needs": ["cluster"]},
             {"name": "report", "needs": ["describe", "sample", "risk"]}]
    # never run: the longest chain in steps, then more steps downstream (cluster heads sample, risk, report)
    rank = G.start_order(steps)
    assert rank["cluster"] < rank["describe"] and rank["clean"] == 0
    # durations known: a long describe step outranks a short chain
    rank = G.start_order(steps, {"clean": 2, "weight": 2, "describe": 30, "cluster": 5, "sample": 5, "risk": 1, "report": 1})
    assert rank["describe"] < rank["cluster"]
    # a step missing from the last run counts as the mean of the known ones
    rank = G.start_order(steps, {"describe": 1.0, "sample": 9.0})
    assert rank["cluster"] < rank["describe"]
    assert sorted(rank.values()) == list(range(len(steps)))
