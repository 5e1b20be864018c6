"""cmlkit.distributions returns what scipy.stats returns, bit for bit, edge cases and scalar types included."""

import numpy as np
import pytest
from scipy import stats

from cmlkit import distributions as D

RNG = np.random.default_rng(20261207)
EDGE_Q = np.array([0.0, 1.0, -0.1, 1.1, np.nan, 0.5, 0.025, 0.975, 1e-300, 1 - 1e-16])
EDGE_PARAM = np.array([np.nan, -1.0, 0.0, 1e-300, 0.3, 1.0, 2.5, 30.0, 1e6, np.inf])
EDGE_X = np.array([-np.inf, -3.0, -0.0, 0.0, 1e-300, 0.7, 4.0, 1e8, np.inf, np.nan])


def same(a, b):
    """Same type (NumPy scalar or array), same values, same NaNs and the same sign of every zero."""
    assert type(a) is type(b)
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(a, b, equal_nan=True)
    assert np.array_equal(np.signbit(a), np.signbit(b))


def grid(*columns):
    """Every combination of the given values, as flat arrays."""
    return [m.ravel() for m in np.meshgrid(*columns, indexing="ij")]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # boost, at the extremes, in both
@pytest.mark.parametrize("ours, theirs, n_params, point", [
    (D.t_ppf, stats.t.ppf, 1, "q"), (D.norm_ppf, stats.norm.ppf, 0, "q"), (D.beta_ppf, stats.beta.ppf, 2, "q"),
    (D.t_sf, stats.t.sf, 1, "x"), (D.f_sf, stats.f.sf, 2, "x")])
def test_equal_to_scipy_stats_on_edges_random_values_and_scalars(ours, theirs, n_params, point):
    edge = EDGE_Q if point == "q" else EDGE_X
    args = grid(edge, *([EDGE_PARAM] * n_params))
    same(ours(*args), theirs(*args))
    rand = [RNG.random(5000) if point == "q" else RNG.normal(0, 5, 5000)]
    rand += [RNG.gamma(0.7, 40, 5000) for _ in range(n_params)]
    same(ours(*rand), theirs(*rand))
    for values in zip(*[a[::7] for a in args]):    # scalars in, NumPy scalars out
        same(ours(*values), theirs(*values))
    # broadcasting a scalar against an array, and a 2-d array
    column = np.linspace(0.01, 0.99, 6).reshape(3, 2) if point == "q" else np.linspace(-2, 5, 6).reshape(3, 2)
    params = [np.float64(12.0)] * n_params
    same(ours(column, *params), theirs(column, *params))
    same(ours(0.975 if point == "q" else 2.0, *[np.array([1.0, 5.0, np.inf])] * n_params),
         theirs(0.975 if point == "q" else 2.0, *[np.array([1.0, 5.0, np.inf])] * n_params))
