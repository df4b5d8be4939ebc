"""Columns are documented from one source, and every per-file output passes a dagster-pandas type check."""

import dagster as dg
import pandas as pd
import pytest

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline.frame_types import per_file_types
from hc_pipeline.metadata import model_descriptions
from hc_pipeline.schemas.facilities import CuratedFacilities
from hc_pipeline.schemas.file_rows import QuarantinedRows, RawRows
from hc_pipeline.schemas.patients import CuratedAdmissions, Findings
from hc_pipeline_tests.conftest import process
from hc_pipeline_tests.steward_files import BAD_FILE, GOOD_FILE

FACILITIES = (
    "facilities/north.json",
    b'[{"facility_id": "FAC-1", "facility_name": "North Clinic", "state": "TX", "employee_count": 12,'
    b' "services": ["lab"], "accreditations": [{"name": "DNV", "expiry_date": "2099-01-01"}]},'
    b' {"facility_id": "FAC-2", "state": "ZZ"}]',
)
PER_FILE = ("raw_records", "curated_records", "quarantined_records")
REPORTS = {
    "patients": ["readmissions", "readmission_rates", "length_of_stay", "demographics", "diagnosis_patterns"],
    "facilities": ["facility_metrics", "expiring_accreditations", "state_counts"],
}


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """Two patient files and a facilities file processed once for the module."""
    resources = build_resources({"HC_HOME": str(tmp_path_factory.mktemp("hc_home"))})
    with dg.instance_for_test() as instance:
        for key, data in (BAD_FILE, GOOD_FILE, FACILITIES):
            resources["landing"].put(key, data)
        process(make_definitions(resources), instance)
        yield instance


def column_schema(instance: dg.DagsterInstance, *path: str) -> dict[str, str | None]:
    event = instance.get_latest_materialization_event(dg.AssetKey(list(path)))
    schema = event.asset_materialization.metadata["dagster/column_schema"].value
    return {column.name: column.description for column in schema.columns}


@pytest.mark.parametrize("model", [CuratedAdmissions, CuratedFacilities, Findings, RawRows, QuarantinedRows])
def test_every_contract_field_has_a_description(model):
    columns = model.to_schema().columns
    assert columns and all(column.description for column in columns.values()), model.__name__


def test_curated_tables_publish_the_pandera_descriptions(processed):
    for domain, model in (("patients", CuratedAdmissions), ("facilities", CuratedFacilities)):
        published = column_schema(processed, domain, "curated_records")
        expected = model_descriptions(model)
        assert {c: published.get(c) for c in expected} == expected, domain


def test_per_file_tables_describe_their_structural_and_landed_columns(processed):
    raw = column_schema(processed, "patients", "raw_records")
    assert raw["source_file"].startswith("The landed object's key") and raw["parse_error"]
    assert raw["age"] == "As landed, as text. " + model_descriptions(CuratedAdmissions)["age"]
    quarantined = column_schema(processed, "facilities", "quarantined_records")
    assert all(quarantined[c] for c in ("record_json", "source_file", "source_row", "reasons"))
    findings = column_schema(processed, "patients", "anomaly_report")
    assert findings == model_descriptions(Findings)


def test_every_report_column_has_a_description_beside_its_sql(processed):
    for domain, names in REPORTS.items():
        for name in names:
            published = column_schema(processed, domain, name)
            assert published and all(published.values()), f"{domain}/{name}: {published}"


def type_checks(instance: dg.DagsterInstance) -> dict[str, list[dict]]:
    """Each per-file output's type-check metadata, by asset: a run of one file records it on its step output, a
    batch run (which records no step output per file) on the file's materialization, under `type_check/`."""
    found: dict[str, list[dict]] = {}
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_OUTPUT):
            data = entry.dagster_event.step_output_data
            name = data.step_output_handle.output_name
            asset = entry.step_key.replace("__", "/") if name == "result" else f"{entry.step_key.split('_')[0]}/{name}"
            check = data.type_check_data
            found.setdefault(asset, []).append(
                {"success": check.success, **{k: v.value for k, v in check.metadata.items()}}
            )
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            materialization = entry.dagster_event.step_materialization_data.materialization
            if "type_check" in materialization.metadata:
                checked = {k[len("type_check/") :]: v.value for k, v in materialization.metadata.items() if "/" in k}
                asset = materialization.asset_key.to_user_string()
                found.setdefault(asset, []).append({"success": True, **checked})
    return found


def test_every_per_file_output_passed_its_dagster_pandas_type_check(processed):
    outputs = type_checks(processed)
    per_file = {
        "patients/raw_records": 2,
        "patients/curated_records": 2,
        "patients/quarantined_records": 2,
        "patients/anomaly_report": 2,
        "facilities/raw_records": 1,
        "facilities/curated_records": 1,
        "facilities/quarantined_records": 1,
    }
    assert {name: len(outputs.get(name, [])) for name in per_file} == per_file
    checks = [c for name in per_file for c in outputs[name]]
    # A dagster-pandas type check carries its summary statistics; a plain DataFrame output would carry none.
    assert all(c["success"] and "rows" in c for c in checks)
    summaries = outputs["patients/curated_records"] + outputs["facilities/curated_records"]
    assert sorted(s["rows"] for s in summaries) == [1, 5, 6]  # facilities 1 of 2; bad file 5 of 10; clean 6
    assert all(s["files"] == 1 and s["first_source_row"] >= 1 for s in summaries)


def test_the_frame_type_fails_a_frame_without_its_structural_columns():
    curated = per_file_types("patients")["curated_records"]
    assert not dg.check_dagster_type(curated, pd.DataFrame({"age": [40]})).success
    assert not dg.check_dagster_type(
        curated, pd.DataFrame({"source_file": ["a.csv"] * 2, "source_row": [1, 1]})
    ).success
    good = pd.DataFrame({"source_file": pd.Series(["a.csv"], dtype="string[pyarrow]"), "source_row": [1]})
    assert dg.check_dagster_type(curated, good).success
