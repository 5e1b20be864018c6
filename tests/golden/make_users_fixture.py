"""Write tests/golden/users_fixture.csv and users_age_targets.csv: weighted users of a small synthetic wave.

Run once from the repository root (``.venv/bin/python tests/golden/make_users_fixture.py``); the CSVs are committed
and read by users.R (R survey) and tests/test_users_golden.py. Synthetic, and without any free text or contact.
"""
from pathlib import Path
import tempfile

import pandas as pd

from cmlkit import frame, nonresponse, user_findings, user_weights
from cmlkit.instrument import load_instrument
from cmlkit.synthetic.users import make_user_wave
from cmlkit.synthetic.wave import make_wave

HERE = Path(__file__).resolve().parent


def main(seed: int = 11, n_community: int = 120) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        make_wave(tmp, seed=seed, n_community=n_community, platforms=("singleheader",), instruments=("cml_library",), inject=False)
        make_user_wave(tmp, seed=seed, platforms=("singleheader",), inject=False)
        scope = frame.in_scope(frame.load_frame(Path(tmp) / "frame.csv"), year=2023)
        libs = pd.read_csv(Path(tmp) / "truth" / "cml_library_clean.csv")
        users = pd.read_csv(Path(tmp) / "truth" / "cml_user_clean.csv").rename(columns={"respondent_id": "response_id"})
        counts = pd.read_csv(Path(tmp) / "exports" / "library_user_counts.csv")
        ages = pd.read_csv(Path(tmp) / "exports" / "user_age_population.csv")
    des, _ = nonresponse.weight_responses(libs.assign(response_id=libs["respondent_id"]), scope, year=2023)
    spec = user_weights.load_spec()
    wu, _, _ = user_weights.user_weights(users, des.data, visits_per_month=spec["visits_per_month"], user_counts=counts)
    ind = user_findings.derive_indicators(wu, spec, inst=load_instrument("cml_user", "2025w1"))
    age = wu["age_band"].astype("string")
    out = pd.DataFrame({"library_id": wu["library_id"], "response_id": wu["response_id"], "region": wu["region"], "type": wu["type"],
                        "N_region": wu["N_region"], "active_users": wu["active_users"], "weight": wu["weight"],
                        "age_cal": age.where(age.isin(list(ages["age_band"])), "unknown").fillna("unknown"),
                        "sat_overall_score": ind["sat_overall_score"], "sat_overall_satisfied": ind["sat_overall_satisfied"]})
    out.to_csv(HERE / "users_fixture.csv", index=False, float_format="%.17g")
    ages.to_csv(HERE / "users_age_targets.csv", index=False)
    print(f"{len(out)} users in {out['library_id'].nunique()} libraries")


if __name__ == "__main__":
    main()
