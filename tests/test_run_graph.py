"""The order in which a run starts the steps that are ready."""

from cmlkit import run_schedule as G


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


def test_start_order_is_refined_on_a_simulated_run_when_every_duration_is_known():
    # two cores; two 3 s steps and three 2 s steps, then a 1 s step after all of them
    steps = [{"name": n, "needs": []} for n in "abcde"] + [{"name": "f", "needs": list("abcde")}]
    durations = {"a": 3, "b": 3, "c": 2, "d": 2, "e": 2, "f": 1}
    longest_first = ["a", "b", "c", "d", "e", "f"]
    # by hand: a and b until 3, c and d until 5, e until 7, f until 8
    assert G.simulated_end(steps, durations, longest_first, 2) == 8
    # by hand: one core a then b (6), the other c, d, e (6), f until 7
    rank = G.start_order(steps, durations, jobs=2)
    order = sorted(rank, key=rank.get)
    assert G.simulated_end(steps, durations, order, 2) == 7
    assert sorted(rank.values()) == list(range(len(steps)))
    # one core, or a step never run: the bottom level alone
    assert G.start_order(steps, durations, jobs=1) == {n: i for i, n in enumerate(longest_first)}
    assert G.start_order(steps, {k: v for k, v in durations.items() if k != "e"}, jobs=2) == \
        G.start_order(steps, {k: v for k, v in durations.items() if k != "e"}, jobs=1)
