"""Case-study replacements: a declining replacement brings in the next unused reserve of the same slot."""
import numpy as np
import pandas as pd
import pytest

from cmlkit import case_fieldwork as F
from cmlkit import sampling as S


def _table():
    """Two slots (A with reserves A1, A2, A3; B with B1), inclusion probabilities all different."""
    rows = [("A", "main", "selected", pd.NA, pd.NA, 0.2), ("B", "main", "selected", pd.NA, pd.NA, 0.3),
            ("A1", "reserve", "reserve", "A", 1, 0.4), ("A2", "reserve", "reserve", "A", 2, 0.5),
            ("A3", "reserve", "reserve", "A", 3, 0.6), ("B1", "reserve", "reserve", "B", 1, 0.7)]
    t = pd.DataFrame(rows, columns=["library_id", "role", "status", "reserve_for", "reserve_rank", "pik"])
    t["reserve_for"] = t["reserve_for"].astype("string")
    t["reserve_rank"] = t["reserve_rank"].astype("Int64")
    t["authority"] = [f"auth{i}" for i in range(len(t))]
    t["region"] = "East"
    t["cluster"] = 0
    t["selected"] = (t["status"] == "selected").astype(int)
    t["reason"] = ""
    return t


def test_a_declining_replacement_brings_in_the_next_reserve_of_its_slot():
    spec = {"constraints": {}}
    t, log = F.replace(_table(), "A", reason="refusal", spec=spec, date="2026-01-01")
    assert (log["replaced_by"], log["reserve_rank"], log["slot"]) == ("A1", 1, "A")
    t, log = F.replace(t, "A1", reason="closed", spec=spec, date="2026-01-02")   # the replacement declines too
    assert (log["replaced_by"], log["reserve_rank"], log["slot"]) == ("A2", 2, "A")
    # its own inclusion probability, not the declined library's
    assert log["pik_replacement"] == 0.5 and log["pik_declined"] == 0.4
    assert t.set_index("library_id").at["A2", "pik"] == 0.5
    t, log = F.replace(t, "A2", reason="refusal", spec=spec, date="2026-01-03")
    assert log["replaced_by"] == "A3"
    with pytest.raises(S.SamplingError, match="no unused reserve of the slot of 'A'") as exc:
        F.replace(t, "A3", reason="refusal", spec=spec, date="2026-01-04")
    assert "A1, A2" in str(exc.value)                         # B1 belongs to another slot: never taken
    assert t.set_index("library_id").at["B1", "status"] == "reserve"
    assert np.array_equal(t["pik"].to_numpy(), _table()["pik"].to_numpy())
