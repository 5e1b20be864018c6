"""The synthetic generator: survey waves with ground truth, for the demo, the tests and the benchmarks.

Nothing in the analysis imports this subpackage (an import-linter contract in ``.importlinter`` checks it);
only the command line (``cmlkit synth``), the tests and the benchmarks do. Its modules:

* :mod:`cmlkit.synthetic.frame`: a library frame shaped like the Arts Council basic dataset;
* :mod:`cmlkit.synthetic.population`: the latent model behind each library and its volunteers;
* :mod:`cmlkit.synthetic.scenarios`: scenarios for validating the risk index without circularity;
* :mod:`cmlkit.synthetic.wave`, :mod:`cmlkit.synthetic.panel`, :mod:`cmlkit.synthetic.users`: a wave, a later
  panel wave, the library users' survey, each with its raw exports and ground truth;
* :mod:`cmlkit.synthetic.exports`: raw exports written as each survey platform lays them out;
* :mod:`cmlkit.synthetic.coverage`, :mod:`cmlkit.synthetic.user_coverage`, :mod:`cmlkit.synthetic.change_study`:
  coverage studies of the design-based intervals on redrawn synthetic waves.

The names most callers need are importable from here.

The generator builds a library frame with the shape of the Arts Council basic dataset, a latent
model behind each community library's answers, a self-selected set of respondents, volunteer
responses, and then the raw exports (see :mod:`cmlkit.platforms`) with injected, recorded errors
(see :mod:`cmlkit.inject`). Everything is driven by one seed, vectorised with NumPy, and
deterministic.

Latent model (per in-scope library)
-----------------------------------
* ``true_model``: governance model (community_supported, community_managed, commissioned_community,
  independent_community), drawn from the frame code (ICL -> mostly independent). It drives legal
  form, tenure, paid staff, council support in kind, council grant and the income mix.
  ``governance_signal`` (0..1) blends model-specific probabilities with the pooled average: at 0
  the features carry no trace of the model.
* ``health``: latent financial health ~ N(model mean, 1). It drives reserves, confidence at 1/3/5
  years, business plan, plans, barriers and risks, and closure (``true_at_risk`` = health < -1;
  ``true_closes_3y`` ~ Bernoulli(logistic(-3.2 - 1.8 * health))).
* ``sat_lib``: latent volunteer satisfaction of the library; each volunteer adds their own noise,
  and the six satisfaction items are ordered-category readings of it.
* Response: logistic in region, frame type (ICL less likely) and weekly hours only, so the
  responses are missing at random given frame variables (not completely at random).
"""
from cmlkit.synthetic.frame import in_scope, latest_operation_column, make_frame, prepare_frame
from cmlkit.synthetic.population import (
    EXPENDITURE_ITEMS, INCOME_ITEMS, OTHER_SERVICES, response_propensity, simulate_libraries, simulate_volunteers,
    typed_identity)

__all__ = ["EXPENDITURE_ITEMS", "INCOME_ITEMS", "OTHER_SERVICES", "in_scope", "latest_operation_column", "make_frame",
           "prepare_frame", "response_propensity", "simulate_libraries", "simulate_volunteers", "typed_identity"]
