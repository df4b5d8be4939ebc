"""The Athena tables IO manager on moto: the DDL it sends for each schema, and reading back by SQL or parquet."""

import datetime as dt
import json
import uuid

import boto3
import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from hc_pipeline.curation import facilities, patients
from hc_pipeline.io_managers.athena_tables import LakeAthenaIOManager, athena_type
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.sources.facilities_json import read_facilities
from hc_pipeline.sources.patients_csv import read_admissions
from hc_pipeline_tests.test_aws.athena_fixtures import (
    DATABASE,
    athena_result,
    executed_sql,
    make_engine,
    preset_results,
)

ACCREDITATION = pa.struct([("body", pa.string()), ("id", pa.string()), ("expiry_date", pa.date32())])
EXPECTED_TYPES = {
    "facility_id": "string",
    "employee_count": "bigint",
    "n_services": "bigint",
    "score": "double",
    "active": "boolean",
    "first_accreditation_expiry": "date",
    "landed_at": "timestamp",
    "services": "array<string>",
    "accreditations": "array<struct<body:string,id:string,expiry_date:date>>",
}


def every_type_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "facility_id": pd.array(["F1", None], dtype="string[pyarrow]"),
            "employee_count": [120, 8],
            "n_services": pd.array([3, None], dtype="Int64"),
            "score": [0.5, None],
            "active": [True, False],
            "first_accreditation_expiry": pd.Series([dt.date(2025, 3, 1), None], dtype=pd.ArrowDtype(pa.date32())),
            "landed_at": pd.to_datetime(["2025-06-30 12:00:00", None]),
            "services": pd.Series([["lab", "icu"], []], dtype=pd.ArrowDtype(pa.list_(pa.string()))),
            "accreditations": pd.Series(
                [[{"body": "JC", "id": "A-1", "expiry_date": dt.date(2025, 3, 1)}], []],
                dtype=pd.ArrowDtype(pa.list_(ACCREDITATION)),
            ),
        }
    )


@pytest.fixture
def lake(moto_athena) -> LakeStorage:
    """An empty S3 lake on the moto server, in a bucket of its own so no listing cache carries over."""
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name="us-east-1", endpoint_url=moto_athena).create_bucket(Bucket=bucket)
    return LakeStorage(root=f"s3://{bucket}/hc", endpoint_url=moto_athena)


def io_manager(lake: LakeStorage, read_via_sql: bool = False) -> LakeAthenaIOManager:
    return LakeAthenaIOManager(storage=lake, engine=make_engine(lake.endpoint_url), read_via_sql=read_via_sql)


def materialize_curated(lake: LakeStorage, frame: pd.DataFrame) -> dg.ExecuteInProcessResult:
    @dg.asset(key=["facilities", "curated_records"])
    def curated() -> pd.DataFrame:
        return frame

    result = dg.materialize([curated], resources={"io_manager": io_manager(lake)})
    assert result.success
    return result


def assert_latest_records_view(statement: str) -> None:
    """The shared view over the table is (re)created right after the table's DDL, in Trino's dialect."""
    assert statement.startswith('CREATE OR REPLACE VIEW "hc"."facilities_latest_records" AS')
    tree = sqlglot.parse_one(statement, read="athena")
    assert isinstance(tree, exp.Create) and tree.find(exp.Table, bfs=False) is not None
    assert "facilities_curated_records" in {t.name for t in tree.find_all(exp.Table)}


def seed_catalog(endpoint: str, location: str, columns: dict[str, str]) -> None:
    """Register the table in Glue as an earlier run's DDL would have (moto's Athena does not)."""
    glue = boto3.client("glue", region_name="us-east-1", endpoint_url=endpoint)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_table(
        DatabaseName=DATABASE,
        TableInput={
            "Name": "facilities_curated_records",
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in columns.items()],
                "Location": location,
            },
        },
    )


@pytest.mark.parametrize(
    ("arrow", "athena"),
    [
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.int64(), "bigint"),
        (pa.int32(), "int"),
        (pa.float64(), "double"),
        (pa.bool_(), "boolean"),
        (pa.date32(), "date"),
        (pa.timestamp("ns"), "timestamp"),
        (pa.list_(pa.string()), "array<string>"),
        (pa.list_(ACCREDITATION), EXPECTED_TYPES["accreditations"]),
        (pa.decimal128(10, 2), "decimal(10,2)"),
        (pa.dictionary(pa.int8(), pa.string()), "string"),
        (pa.map_(pa.string(), pa.string()), "map<string,string>"),
        (
            pa.list_(pa.struct([("name", pa.string()), ("certifications", pa.list_(pa.string()))])),
            "array<struct<name:string,certifications:array<string>>>",
        ),
    ],
)
def test_arrow_types_map_to_athena_ddl_types(arrow, athena):
    assert athena_type(arrow) == athena


def test_first_write_sends_create_external_table_for_every_column_type(lake):
    result = materialize_curated(lake, every_type_frame())

    ddl, view = executed_sql(lake.endpoint_url)
    assert_latest_records_view(view)
    location = f"{lake.root}/lake/facilities/curated_records/"
    for dialect in ("athena", "hive"):
        tree = sqlglot.parse_one(ddl, read=dialect)
        assert isinstance(tree, exp.Create) and tree.args["exists"]
        assert (tree.this.this.db, tree.this.this.name) == (DATABASE, "facilities_curated_records")
        assert tree.find(exp.LocationProperty).this.name == location
        assert tree.find(exp.FileFormatProperty).this.name.upper() == "PARQUET"
        columns = {c.name: c.args["kind"].sql("hive").lower().replace(" ", "") for c in tree.this.expressions}
        assert columns == EXPECTED_TYPES
    assert ddl.startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `hc`.`facilities_curated_records` (")
    assert "`accreditations` array<struct<body:string,id:string,expiry_date:date>>" in ddl
    assert lake.path("lake", "facilities", "curated_records", "data.parquet").exists()
    metadata = result.asset_materializations_for_node("facilities__curated_records")[0].metadata
    assert metadata["athena/table"].value == "hc.facilities_curated_records"


def test_new_column_is_added_with_alter_table_add_columns(lake):
    location = f"{lake.root}/lake/facilities/curated_records/"
    seed_catalog(lake.endpoint_url, location, {k: v for k, v in EXPECTED_TYPES.items() if k != "score"})

    materialize_curated(lake, every_type_frame())

    ddl, view = executed_sql(lake.endpoint_url)
    assert_latest_records_view(view)
    assert ddl == "ALTER TABLE `hc`.`facilities_curated_records` ADD COLUMNS (`score` double)"
    tree = sqlglot.parse_one(ddl, read="athena")
    assert isinstance(tree, exp.Alter)
    assert [(c.name, c.args["kind"].sql("hive")) for c in tree.find_all(exp.ColumnDef)] == [("score", "DOUBLE")]


def test_unchanged_schema_sends_no_ddl(lake):
    seed_catalog(lake.endpoint_url, f"{lake.root}/lake/facilities/curated_records/", EXPECTED_TYPES)

    materialize_curated(lake, every_type_frame())

    assert executed_sql(lake.endpoint_url) == []


def test_retyped_column_drops_and_recreates_the_external_table(lake):
    location = f"{lake.root}/lake/facilities/curated_records/"
    seed_catalog(lake.endpoint_url, location, {**EXPECTED_TYPES, "employee_count": "string"})

    materialize_curated(lake, every_type_frame())

    drop, create, view = executed_sql(lake.endpoint_url)
    assert_latest_records_view(view)
    assert drop == "DROP TABLE IF EXISTS `hc`.`facilities_curated_records`"
    assert create.startswith("CREATE EXTERNAL TABLE IF NOT EXISTS") and "`employee_count` bigint" in create


def test_all_null_column_does_not_retype_the_table(lake):
    seed_catalog(lake.endpoint_url, f"{lake.root}/lake/facilities/curated_records/", EXPECTED_TYPES)
    frame = every_type_frame().assign(n_services=[None, None], services=[[], []])

    materialize_curated(lake, frame)

    assert executed_sql(lake.endpoint_url) == []


@pytest.mark.parametrize("read_via_sql", [True, False])
def test_partition_reads_back_through_sql_on_path_or_from_parquet(lake, read_via_sql):
    partitions = dg.StaticPartitionsDefinition(["a.csv@1", "b.csv@2"])
    frame = pd.DataFrame({"patient_id": ["P1", "P2"], "age": [40, 51]})
    ddl = [{"rows": [], "column_info": []}] * 5  # the history table, manifests, versions view, table view, shared view
    preset_results(
        lake.endpoint_url,
        *ddl,
        athena_result([("patient_id", "varchar"), ("age", "integer")], [["P1", 40], ["P2", 51]]),
    )
    seen = {}

    @dg.asset(key=["patients", "curated_records"], partitions_def=partitions)
    def curated() -> pd.DataFrame:
        return frame

    @dg.asset(
        key=["patients", "echo"],
        partitions_def=partitions,
        ins={"curated": dg.AssetIn(key=["patients", "curated_records"])},
    )
    def echo(curated: pd.DataFrame) -> None:
        seen["frame"] = curated

    result = dg.materialize(
        [curated, echo], partition_key="a.csv@1", resources={"io_manager": io_manager(lake, read_via_sql)}
    )

    assert result.success
    pd.testing.assert_frame_equal(seen["frame"], frame, check_dtype=False)
    statements = executed_sql(lake.endpoint_url)
    assert statements[0].startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `hc`.`patients_curated_records_history`")
    assert statements[1].startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `hc`.`patients_manifests`")
    assert f"LOCATION '{lake.root}/manifests/patients/'" in statements[1]
    assert statements[2].startswith('CREATE OR REPLACE VIEW "hc"."patients_file_versions" AS')
    assert statements[3].startswith('CREATE OR REPLACE VIEW "hc"."patients_curated_records" AS')
    assert '"hc"."patients_curated_records_history"' in statements[3] and "NOT is_current" in statements[3]
    assert statements[4].startswith('CREATE OR REPLACE VIEW "hc"."patients_stays" AS')
    for view in statements[2:5]:
        sqlglot.parse_one(view, read="athena")
    if read_via_sql:
        path = f"{lake.root}/lake/patients/curated_records/a.csv@1.parquet"
        assert statements[5:] == [f"""SELECT * FROM "hc"."patients_curated_records_history" WHERE "$path" = '{path}'"""]
        sqlglot.parse_one(statements[5], read="athena")
    else:
        assert statements[5:] == []


def test_a_table_from_before_versions_becomes_history_and_a_view(lake):
    """An existing external table of a per-file asset is dropped (its files stay) and recreated as the view."""
    seed_catalog(lake.endpoint_url, f"{lake.root}/lake/facilities/curated_records/", {"facility_id": "string"})
    manager = io_manager(lake).create_io_manager(None)
    statements = manager.sync_current_view("facilities", "facilities_curated_records", history_changed=False)
    assert statements[0] == "DROP TABLE IF EXISTS `hc`.`facilities_curated_records`"
    assert statements[3].startswith('CREATE OR REPLACE VIEW "hc"."facilities_curated_records" AS')
    assert statements[4].startswith('CREATE OR REPLACE VIEW "hc"."facilities_latest_records" AS')
    assert executed_sql(lake.endpoint_url) == statements


def test_local_storage_root_is_refused(tmp_path):
    storage = LakeStorage(root=str(tmp_path))
    manager = LakeAthenaIOManager(storage=storage, engine=make_engine("http://127.0.0.1:1"))
    with pytest.raises(ValueError, match="s3:// storage root"):
        manager.create_io_manager(dg.build_init_resource_context())


def curated_frames() -> dict[str, pd.DataFrame]:
    """Real curated frames: a facility with labs, an address and an unknown field; admissions with a ward column."""
    record = {
        "facility_id": "FAC12345",
        "location": {"address": "123 Main St", "city": "Springfield", "state": "IL", "zip": "62701"},
        "labs": [{"lab_name": "Hematology Lab", "certifications": ["CLIA", "CAP"]}],
        "accreditations": [{"accreditation_body": "JC", "accreditation_id": "JC-1", "valid_until": "2027-12-31"}],
        "npi": 1234567893,
    }
    csv = b"patient_id,age,gender,admission_date,discharge_date,diagnosis,ward\nP1,40,M,2024-01-01,,Flu,W3\n"
    run_date = dt.date(2026, 1, 1)
    return {
        "facilities": facilities.curate(read_facilities(json.dumps([record]).encode(), "f.json"), run_date).curated,
        "patients": patients.curate(read_admissions(csv, "patients/w.csv"), run_date).curated,
    }


@pytest.mark.parametrize("domain", ["facilities", "patients"])
def test_curated_tables_declare_labs_address_and_the_extra_map(lake, domain):
    frame = curated_frames()[domain]

    @dg.asset(key=[domain, "curated_records"])
    def curated() -> pd.DataFrame:
        return frame

    assert dg.materialize([curated], resources={"io_manager": io_manager(lake)}).success
    ddl = executed_sql(lake.endpoint_url)[0]  # then the domain's shared view, over every column
    assert ddl.startswith(f"CREATE EXTERNAL TABLE IF NOT EXISTS `hc`.`{domain}_curated_records` (")
    tree = sqlglot.parse_one(ddl, read="athena")
    columns = {c.name: c.args["kind"].sql("hive").lower().replace(" ", "") for c in tree.this.expressions}
    assert columns["extra"] == "map<string,string>"
    if domain == "facilities":
        assert columns["address"] == "string"
        assert columns["labs"] == "array<struct<name:string,certifications:array<string>>>"
    sqlglot.parse_one(f"select element_at(extra, 'ward') from {domain}_curated_records", read="athena")
