"""The order a run starts its steps in: longest path first, refined on a simulation of the run.

:func:`start_order` ranks the steps the runner may start; :func:`simulated_end` is the list-scheduling
simulation the refinement uses (``jobs`` steps at once, each taking its last run's seconds).
"""

from __future__ import annotations

import heapq

from cmlkit.errors import PipelineError


def start_order(steps: list, durations: dict | None = None, *, jobs: int = 1) -> dict:
    """Rank of each step among those ready to start: the longest chain of work it heads goes first.

    A step's priority is its bottom level: its expected seconds plus the longest chain of expected
    seconds through the steps that depend on it, directly or not (the critical path to the end of the
    run); ties go to the step with more steps downstream, then to pipeline order. Expected seconds are
    the durations of the latest finished run; a step never run counts as the mean of those known (1 s
    when none is known, which ranks by the number of steps on the longest chain). Starting the head of
    the critical path first keeps a short step from delaying a long chain when cores are few; the order
    never changes what a step computes.

    The bottom level is a rule of thumb: near the end of a run, two long steps started first can leave
    a core idle while a short step waits. So when every step's seconds are known and ``jobs`` > 1,
    the order is then refined on a simulation of the run (:func:`simulated_end`: each core starts the
    highest-ranked ready step as soon as it is free): a step is moved to another place in the order
    whenever that makes the simulated run end sooner, until no move does.

    Parameters
    ----------
    steps : list of dict
        The steps (``name`` and ``needs``), in pipeline order; steps depend only on earlier ones.
    durations : dict, optional
        Step name -> seconds of its latest execution.
    jobs : int, default 1
        Steps run at once.

    Returns
    -------
    dict
        Step name -> rank (0 starts first).
    """
    durations = {k: float(v) for k, v in (durations or {}).items() if v is not None}
    default = sum(durations.values()) / len(durations) if durations else 1.0
    level, below = {}, {}
    for step in reversed(steps):
        name = step["name"]
        children = [s["name"] for s in steps if name in s["needs"]]
        level[name] = durations.get(name, default) + max((level[c] for c in children), default=0.0)
        below[name] = set(children).union(*(below[c] for c in children))
    order = sorted(range(len(steps)), key=lambda i: (-level[steps[i]["name"]], -len(below[steps[i]["name"]]), i))
    names = [steps[i]["name"] for i in order]
    if jobs > 1 and all(s["name"] in durations for s in steps):
        try:
            names = _refined(steps, durations, names, jobs)
        except PipelineError:     # a step needing one outside ``steps``: the runner reports it, not the planner
            pass
    return {name: rank for rank, name in enumerate(names)}


def simulated_end(steps: list, durations: dict, order: list, jobs: int) -> float:
    """When a run would end if each of ``jobs`` cores started the first ready step of ``order`` as soon as it is free.

    Parameters
    ----------
    steps : list of dict
        The steps (``name`` and ``needs``).
    durations : dict
        Step name -> seconds.
    order : list of str
        Every step's name, highest priority first.
    jobs : int
        Steps run at once.

    Returns
    -------
    float
        Seconds from the start of the run to the end of its last step.
    """
    needs = {s["name"]: set(s["needs"]) for s in steps}
    waiting, done, running, now = list(order), set(), [], 0.0
    while waiting or running:
        for name in [n for n in waiting if needs[n] <= done][:jobs - len(running)]:
            waiting.remove(name)
            heapq.heappush(running, (now + durations[name], name))
        if not running:
            raise PipelineError("no step can start: the pipeline's dependencies form a cycle")
        now, name = heapq.heappop(running)
        done.add(name)
    return now


def _refined(steps, durations, names, jobs, *, budget: int = 5000):
    """``names`` with steps moved while a move makes :func:`simulated_end` sooner (first improving move, in order).

    At most ``budget`` simulations (a 16-step pipeline needs a few hundred), so a long pipeline's order
    costs a bounded time to plan.
    """
    best = simulated_end(steps, durations, names, jobs)
    moves = [(i, j) for i in range(len(names)) for j in range(len(names)) if i != j]
    moved = True
    while moved and budget > 0:
        moved = False
        for i, j in moves[:budget]:
            trial = names[:i] + names[i + 1:]
            trial.insert(j, names[i])
            end = simulated_end(steps, durations, trial, jobs)
            if end < best - 1e-9:
                best, names, moved = end, trial, True
        budget -= len(moves)
    return names
