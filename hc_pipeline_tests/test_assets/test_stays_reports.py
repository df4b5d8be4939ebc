"""The reports over every stay share one computation of `patients_stays`, and give what each gives on its own."""

import datetime as dt

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hc_pipeline.assets.analytics import STAYS, STAYS_COLUMNS, STAYS_REPORTS
from hc_pipeline.generate.writer import generate
from hc_pipeline.resources.query_engine import DuckDBQueryEngine
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.sql import render_sql
from hc_pipeline_tests.conftest import RUN_DATE, process
from hc_pipeline_tests.test_exports.test_local_exports import land_all
from hc_pipeline_tests.test_sql.test_patient_analytics import CURATED_SCHEMA, random_rows


@pytest.fixture
def engine(tmp_path) -> DuckDBQueryEngine:
    """A lake whose curated admissions are two files of random stays (patients span both files)."""
    folder = tmp_path / "lake" / "patients" / "curated_records"
    folder.mkdir(parents=True)
    rows = random_rows(seed=7, patients=200)
    for number, half in enumerate((rows[::2], rows[1::2]), 1):
        pq.write_table(pa.Table.from_pylist(half, schema=CURATED_SCHEMA), folder / f"file{number}.parquet")
    return DuckDBQueryEngine(storage=LakeStorage(root=str(tmp_path)))


@pytest.mark.parametrize("name", list(STAYS_REPORTS))
def test_a_report_on_the_view_computed_once_equals_the_report_alone(engine, name):
    alone = engine.query(render_sql(name))
    with engine.sharing(STAYS, STAYS_COLUMNS) as queries:
        shared, _ = queries.query_with_stats(render_sql(name))
    assert len(alone) > 1
    assert shared.equals(alone)


def test_the_shared_view_is_a_table_of_the_columns_the_reports_read(engine):
    with engine.sharing(STAYS, STAYS_COLUMNS) as queries:
        tables = queries.con.execute("SELECT table_name, temporary FROM duckdb_tables()").fetchall()
        columns = queries.con.execute(f"SELECT * FROM {STAYS} LIMIT 0").df().columns.tolist()
    assert tables == [(f"{STAYS}_once", True)]
    assert columns == STAYS_COLUMNS


def test_one_stays_report_refreshes_alone(tmp_path, resources, defs, instance):
    samples = tmp_path / "samples"
    generate(samples, patients=300, facilities=8, defect_rate=0.05, seed=5, run_date=RUN_DATE)
    land_all(resources, samples, domains=("patients",))
    assert not process(defs, instance).failed
    demographics = dg.AssetKey(["patients", "demographics"])
    before = {k: instance.get_latest_materialization_event(k).run_id for k in _stays_keys()}
    assert len(set(before.values())) == 1  # the four came from one run
    selected = dg.AssetSelection.assets(demographics)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=list(selected.resolve(defs.resolve_asset_graph()))
    )
    assert result.success
    after = {k: instance.get_latest_materialization_event(k).run_id for k in _stays_keys()}
    assert {k for k in after if after[k] != before[k]} == {demographics}


def test_the_readmissions_check_counts_in_the_lake_and_fails_on_a_stay_discharged_before_admission(
    tmp_path, resources, defs, instance, home
):
    samples = tmp_path / "samples"
    generate(samples, patients=150, facilities=4, defect_rate=0.05, seed=6, run_date=RUN_DATE)
    land_all(resources, samples, domains=("patients",))
    assert not process(defs, instance).failed
    table = home / "lake" / "patients" / "readmissions" / "data.parquet"
    stays = pq.read_table(table)
    assert _check_alone(defs, resources, instance) == (True, {"failing_rows": 0, "stays": stays.num_rows})
    dates = stays.to_pydict()
    dates["discharge_date"][3] = dates["admission_date"][3] - dt.timedelta(days=1)
    pq.write_table(pa.Table.from_pydict(dates, schema=stays.schema), table)
    assert _check_alone(defs, resources, instance) == (False, {"failing_rows": 1, "stays": stays.num_rows})


def _check_alone(defs, resources, instance) -> tuple[bool, dict]:
    key = dg.AssetCheckKey(dg.AssetKey(["patients", "readmissions"]), "discharge_after_admission")
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=dg.AssetSelection.checks(key),
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation.passed, {name: value.value for name, value in evaluation.metadata.items()}


def _stays_keys() -> list[dg.AssetKey]:
    return [dg.AssetKey(["patients", name]) for name in STAYS_REPORTS]
