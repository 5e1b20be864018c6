import pandas as pd
import pytest

from cmlkit.errors import InstrumentError
from cmlkit.relevance import evaluate

DATA = pd.DataFrame({"a": ["yes", "no", None], "m": ["x y", "y", None], "t": ["council_lease", "owned", "peppercorn_lease"]})


@pytest.mark.parametrize("expr, expected", [
    ("${a} = 'yes'", [True, False, False]),
    ("${a} != 'yes'", [False, True, False]),
    ("selected(${m}, 'x')", [True, False, False]),
    ("${t} = 'council_lease' or ${t} = 'peppercorn_lease'", [True, False, True]),
    ("${a} = 'no' and selected(${m}, 'y')", [False, True, False]),
    ("not(${a} = 'yes')", [False, True, True]),
])
def test_skip_logic_evaluates(expr, expected):
    assert evaluate(expr, DATA).tolist() == expected


@pytest.mark.parametrize("expr", ["__import__('os').system('true')", "${a} > 3", "${zzz} = 'x'", "${a} = yes"])
def test_skip_logic_refuses_anything_else(expr):
    with pytest.raises(InstrumentError):
        evaluate(expr, DATA)
