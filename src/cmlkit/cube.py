"""The cube method for balanced sampling (Deville & Tillé 2004), as R ``sampling::samplecube(method=2)``:
a flight phase in the null space of the balancing equations, then a landing phase dropping balancing
variables from the last one.

:func:`cube` draws one sample. :func:`cube_many` draws many at once, each from its own generator and
bit for bit the sample :func:`cube` draws from that generator (leaving the generator in the same
state): the flight phase of every draw runs in lockstep, one batched QR per step for all draws, and
only the few landing steps run draw by draw. Hand-written (no Python package implements the cube
method); checked bit for bit against a direct transcription of the algorithm in the tests.
"""

from __future__ import annotations

import numpy as np


def null_vector(M):
    """A unit vector ``u`` with ``M.T @ u = 0`` for each (p + 1) x p matrix ``M`` (stacked or not).

    The last column of the complete Q of a QR decomposition: orthogonal to the columns of ``M``
    whatever its rank. One LAPACK QR per matrix (about five times cheaper than the SVD R uses for
    the same vector); the same routine for a stack as for one matrix, so batched and single
    draws agree bit for bit.

    Parameters
    ----------
    M : array (..., p + 1, p)

    Returns
    -------
    numpy.ndarray (..., p + 1)
    """
    return np.linalg.qr(M, mode="complete")[0][..., -1]


def _scaled(pik, X):
    """``X / pik`` by unit (0 where ``pik`` is 0): the balancing equations of every step."""
    pik = np.asarray(pik, dtype=float).copy()
    X = np.asarray(X, dtype=float)
    A = np.where(pik[:, None] > 0, X / np.where(pik > 0, pik, 1)[:, None], 0.0)
    return pik, A


def _live(pik, perm, eps):
    """Units strictly inside (0, 1), in the order of the permutation."""
    return perm[(pik[perm] > eps) & (pik[perm] < 1 - eps)]


def _finish(pi, A, live, p, rng, eps, steps):
    """The cube's steps from a state (``pi`` by unit, ``live`` units in order, ``p`` equations) to the end.

    Works in place on ``pi``; ``steps`` bounds the iterations as in the original loop.
    """
    for _ in range(steps):
        if len(live) == 0:
            break
        p = min(p, len(live) - 1)
        if p == 0:
            j = live[0]
            pi[j] = float(rng.random() < pi[j])
            live = live[1:]
            continue
        sub = live[:p + 1]
        ps = pi[sub]
        u = null_vector(A[sub, :p])
        pos, neg = u > eps, u < -eps
        upos, uneg = u[pos], -u[neg]
        l1 = min(((1 - ps[pos]) / upos).min(initial=np.inf), (ps[neg] / uneg).min(initial=np.inf))
        l2 = min((ps[pos] / upos).min(initial=np.inf), ((1 - ps[neg]) / uneg).min(initial=np.inf))
        if not (np.isfinite(l1) and np.isfinite(l2)):
            p -= 1
            continue
        ps = ps + l1 * u if rng.random() < l2 / (l1 + l2) else ps - l2 * u
        ps[np.abs(ps) < eps] = 0.0
        ps[np.abs(ps - 1) < eps] = 1.0
        pi[sub] = ps
        live = np.concatenate([sub[(ps > eps) & (ps < 1 - eps)], live[p + 1:]])
    return pi


def cube(pik, X, *, random_state=None, eps: float = 1e-9) -> np.ndarray:
    """Balanced sample by the cube method (fast flight phase, landing by dropping variables).

    Parameters
    ----------
    pik : array of float
        Inclusion probabilities (sum = sample size).
    X : array (N x p)
        Balancing variables in order of importance: the landing phase drops them from the last.
        The Horvitz-Thompson totals of these columns equal their population totals for a sample
        that lands exactly.
    random_state : int or numpy.random.Generator
    eps : float, default 1e-9
        Probabilities within ``eps`` of 0 or 1 are taken as decided.

    Returns
    -------
    numpy.ndarray of 0/1
    """
    rng = np.random.default_rng(random_state)
    pi, A = _scaled(pik, X)
    N = len(pi)
    live = _live(pi, rng.permutation(N), eps)
    # only the p + 1 units moved in a step can leave (0, 1): keep the live units instead of rescanning all N
    return np.round(_finish(pi, A, live, A.shape[1], rng, eps, 4 * N + 10)).astype(int)


def cube_many(pik, X, generators, *, eps: float = 1e-9) -> np.ndarray:
    """One cube sample per generator, each equal to ``cube(pik, X, random_state=generator)``.

    Every generator is left in the state :func:`cube` would leave it in, so a caller may go on
    drawing from it (a redraw when a sample breaks a constraint).

    Parameters
    ----------
    pik : array of float
        Inclusion probabilities (sum = sample size).
    X : array (N x p)
        Balancing variables in order of importance.
    generators : sequence of numpy.random.Generator
        One per sample.
    eps : float, default 1e-9
        Probabilities within ``eps`` of 0 or 1 are taken as decided.

    Returns
    -------
    numpy.ndarray (len(generators) x N) of 0/1
    """
    pik, A = _scaled(pik, X)
    N, p = len(pik), A.shape[1]
    B = len(generators)
    tails, states, uniforms = [], [], []
    for rng in generators:                     # each generator: its permutation, then its uniforms in order
        tails.append(_live(pik, rng.permutation(N), eps))
        states.append(rng.bit_generator.state)
        uniforms.append(rng.random(len(tails[-1]) + p + 2))
    L = len(tails[0]) if B else 0
    st = _Lockstep(pi=np.tile(pik, (B, 1)), A=A, tail=np.array(tails, dtype=np.intp).reshape(B, L),
                   U=np.array(uniforms).reshape(B, L + p + 2), p=p, eps=eps)
    st.run()
    out = np.empty((B, N), dtype=int)
    for b, rng in enumerate(generators):       # each generator moved on by the uniforms its draw took
        rng.bit_generator.state = states[b]
        rng.random(st.used[b])
        live = np.concatenate([st.window[b, :st.held[b]], st.tail[b, st.ptr[b]:]])
        if len(live):                          # the rare draw left to the sequential steps (see _Lockstep)
            _finish(st.pi[b], A, live, int(st.q[b]), rng, eps, 4 * N + 10 - st.used[b])
        out[b] = np.round(st.pi[b]).astype(int)
    return out


class _Lockstep:
    """The cube's steps for many draws at once (flight and landing), each draw on its own uniforms.

    A draw's live units are the ones carried in its window from its last step (``held``) followed by
    the rest of its permuted tail (from ``ptr``), exactly the order of the sequential loop; ``q`` is
    its number of equations (``p``, then fewer as it lands). Draws with the same ``q`` step together:
    one batched QR. A draw whose step cannot move (no finite step length: the sequential loop drops
    an equation there) or that used up its uniforms stops here and :func:`cube_many` finishes it
    with :func:`_finish`, from the same state.
    """

    def __init__(self, *, pi, A, tail, U, p, eps):
        self.pi, self.A, self.tail, self.U, self.eps = pi, A, tail, U, eps
        B, self.L = tail.shape
        self.used = np.zeros(B, dtype=np.intp)
        self.window = np.zeros((B, p + 1), dtype=np.intp)
        self.held = np.zeros(B, dtype=np.intp)
        self.ptr = np.zeros(B, dtype=np.intp)
        self.q = np.full(B, p, dtype=np.intp)
        self.active = np.full(B, p > 0)

    def run(self):
        """Step every active draw until each has no live unit or stops."""
        while True:
            live = self.held + self.L - self.ptr
            self.q = np.minimum(self.q, live - 1)
            self.active &= (live > 0) & (self.used < self.U.shape[1])
            rows = np.flatnonzero(self.active)
            if len(rows) == 0:
                return
            q = self.q[rows]
            self._last_unit(rows[q == 0])
            for k in np.unique(q[q > 0]):
                self._step(rows[q == k], int(k))

    def _last_unit(self, rows):
        """One live unit left: it is selected with its probability (one uniform)."""
        if len(rows) == 0:
            return
        carried = self.held[rows] > 0
        j = np.where(carried, self.window[rows, 0], self.tail[rows, np.minimum(self.ptr[rows], self.L - 1)])
        r = self.U[rows, self.used[rows]]
        self.used[rows] += 1
        self.pi[rows, j] = (r < self.pi[rows, j]).astype(float)
        self.ptr[rows] += ~carried
        self.held[rows] = 0

    def _step(self, rows, q):
        """One step of the draws ``rows``, each with ``q`` equations on its first ``q + 1`` live units."""
        eps, slots = self.eps, np.arange(q + 1)
        h, t = self.held[rows], self.ptr[rows]
        fill = slots[None, :] >= h[:, None]
        src = np.minimum(t[:, None] + slots[None, :] - h[:, None], self.L - 1)
        win = np.where(fill, self.tail[rows[:, None], src], self.window[rows, :q + 1])
        self.ptr[rows] = t + (q + 1 - h)
        u = null_vector(self.A[win, :q])
        ps = self.pi[rows[:, None], win]
        pos, neg = u > eps, u < -eps
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.where(pos, u, 1.0)
            un = np.where(neg, -u, 1.0)
            l1 = np.minimum(np.where(pos, (1 - ps) / up, np.inf).min(axis=1), np.where(neg, ps / un, np.inf).min(axis=1))
            l2 = np.minimum(np.where(pos, ps / up, np.inf).min(axis=1), np.where(neg, (1 - ps) / un, np.inf).min(axis=1))
        ok = np.isfinite(l1) & np.isfinite(l2)
        if not ok.all():                       # the sequential loop drops an equation here: leave it to _finish
            bad = rows[~ok]
            self.window[bad, :q + 1] = win[~ok]
            self.held[bad] = q + 1
            self.active[bad] = False
            rows, win, u, ps, l1, l2 = rows[ok], win[ok], u[ok], ps[ok], l1[ok], l2[ok]
        r = self.U[rows, self.used[rows]]
        self.used[rows] += 1
        ps = np.where((r < l2 / (l1 + l2))[:, None], ps + l1[:, None] * u, ps - l2[:, None] * u)
        ps[np.abs(ps) < eps] = 0.0
        ps[np.abs(ps - 1) < eps] = 1.0
        self.pi[rows[:, None], win] = ps
        keep = (ps > eps) & (ps < 1 - eps)
        self.window[rows, :q + 1] = np.take_along_axis(win, np.argsort(~keep, axis=1, kind="stable"), axis=1)
        self.held[rows] = keep.sum(axis=1)
