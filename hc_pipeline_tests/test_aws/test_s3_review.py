"""The stewards' loop on S3 (moto on 127.0.0.1): decisions land in the bucket and the run applies them."""

import dagster as dg
import pandas as pd

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline.review.commands import apply_decisions, export_open_exceptions
from hc_pipeline_tests.conftest import process
from hc_pipeline_tests.test_aws.s3_fixtures import keys_under, s3_env
from hc_pipeline_tests.test_review.seed import ADMISSIONS, decided


def test_review_export_apply_and_run_on_s3(s3_endpoint, monkeypatch, tmp_path):
    env = s3_env(s3_endpoint, HC_S3_SSE="AES256")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    resources = build_resources(env)
    resources["landing"].put("patients/admissions.csv", ADMISSIONS.encode())
    with dg.instance_for_test() as instance:
        defs = make_definitions(resources)
        process(defs, instance)
        assert export_open_exceptions("patients", tmp_path / "open.csv", None) == 0
        rows = pd.read_csv(tmp_path / "open.csv", dtype=str, keep_default_na=False)
        assert len(rows) == 5
        choices = {
            6: ("correct", "typo", {"age": "51"}),
            7: ("correct", "form", {"patient_id": "P007"}),
            8: ("correct", "guess", {"age": "200"}),
            9: ("accept", "transfer date", {}),
            10: ("reject", "test record", {}),
        }
        (tmp_path / "decided.csv").write_text(decided(rows.to_csv(index=False), choices))
        assert apply_decisions("patients", tmp_path / "decided.csv", "dana") == 0
        landed = [k for k in keys_under(s3_endpoint, "landing") if k.startswith("landing/_decisions/patients/")]
        assert len(landed) == 1
        outcome = process(defs, instance).decisions["patients"]
        assert len(outcome.applied) == 1 and len(outcome.recurated) == 1
    engine = resources["query_engine"]
    curated = engine.query("SELECT resolution, count(*) AS n FROM patients_curated_records GROUP BY resolution")
    assert dict(zip(curated["resolution"].fillna("first time"), curated["n"])) == {
        "first time": 5,
        "corrected": 2,
        "accepted": 1,
    }
    statuses = engine.query("SELECT source_row, status FROM patients_exceptions ORDER BY source_row")
    assert statuses["status"].tolist() == ["corrected", "corrected", "open", "accepted", "rejected"]
