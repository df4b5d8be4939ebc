"""A JSON number past a float's range (`1e400`) is valid JSON: kept in a field the pipeline does not use, and in
`employee_count` it quarantines its record (not the file) with the rule that reads it."""

import json

import dagster as dg
import pandas as pd
import pytest

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline_tests.conftest import process
from hc_pipeline_tests.test_curation.test_kept_fields import seed_002

BIG = "__BIG__"


def _text(record: dict) -> str:
    """The record as JSON with every `BIG` value written as a literal past a float's range."""
    return json.dumps(record).replace(f'"{BIG}"', "1e400").replace(f'"-{BIG}"', "-2.5E+999")


RECORDS = [
    _text(seed_002("FAC-UNUSED", extra=BIG, meta={"score": f"-{BIG}"})),
    _text(seed_002("FAC-COUNT", employee_count=BIG)),
    _text(seed_002("FAC-PLAIN")),
]
FILES = {"array.json": "[" + ",\n".join(RECORDS) + "]", "lines.ndjson": "\n".join(RECORDS) + "\n"}


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    resources = build_resources({"HC_HOME": str(tmp_path_factory.mktemp("hc_home"))})
    for name, text in FILES.items():
        resources["landing"].put(f"facilities/{name}", text.encode())
    with dg.instance_for_test() as instance:
        summary = process(make_definitions(resources), instance)
    return summary, resources["query_engine"]


def _rows(engine, table: str, name: str) -> pd.DataFrame:
    return engine.query(f"SELECT * FROM {table} WHERE source_file = 'facilities/{name}' ORDER BY source_row")


def test_no_file_is_quarantined_whole_and_no_run_fails(processed):
    summary, _ = processed
    assert summary.failed == [] and summary.stopped_by_checks == [] and summary.gave_up == []
    assert len(summary.processed["facilities"]) == len(FILES)


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_record_is_curated_or_quarantined(processed, name):
    _, engine = processed
    raw = _rows(engine, "facilities_raw_records", name)
    assert raw["parse_error"].isna().all() and raw["source_row"].tolist() == [1, 2, 3]
    curated = _rows(engine, "facilities_curated_records", name)
    quarantined = _rows(engine, "facilities_quarantined_records", name)
    assert len(curated) + len(quarantined) == len(raw) == len(RECORDS)


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_large_number_in_an_unused_field_is_curated_and_kept_as_written(processed, name):
    curated = _rows(processed[1], "facilities_curated_records", name)
    assert curated["facility_id"].tolist() == ["FAC-UNUSED", "FAC-PLAIN"]
    assert dict(curated["extra"][0]) == {"extra": "1e400", "meta": '{"score":-2.5E+999}'}
    assert curated["employee_count"].tolist() == [250, 250]


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_large_employee_count_quarantines_its_record_as_invalid_employee_count(processed, name):
    quarantined = _rows(processed[1], "facilities_quarantined_records", name)
    assert quarantined["facility_id"].tolist() == ["FAC-COUNT"]
    assert list(quarantined["reasons"][0]) == ["invalid_employee_count"]
    assert '"employee_count":1e400' in quarantined["record_json"][0]
