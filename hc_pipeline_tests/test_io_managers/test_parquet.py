"""The lake IO manager writes one parquet file per partition at a known path and reads it back unchanged."""

import datetime as dt

import dagster as dg
import pandas as pd
import pyarrow

from hc_pipeline.io_managers.parquet import LakeParquetIOManager
from hc_pipeline.partitions import files_partitions


def sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": pd.array(["P1", None], dtype="string[pyarrow]"),
            "age": pd.array([40, None], dtype="Int64"),
            "admission_date": pd.Series([dt.date(2024, 2, 29), None], dtype=pd.ArrowDtype(pyarrow.date32())),
            "warnings": pd.Series([["missing_age"], []], dtype=pd.ArrowDtype(pyarrow.list_(pyarrow.string()))),
        }
    )


def test_partitioned_output_lands_at_lake_domain_asset_partition(resources, home):
    frame = sample_frame()

    @dg.asset(key=["patients", "curated_records"], partitions_def=files_partitions["patients"])
    def curated() -> pd.DataFrame:
        return frame

    @dg.asset(
        key=["patients", "echo"],
        partitions_def=files_partitions["patients"],
        ins={"curated": dg.AssetIn(key=["patients", "curated_records"])},
    )
    def echo(curated: pd.DataFrame) -> pd.DataFrame:
        pd.testing.assert_frame_equal(curated, frame)
        return curated

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("patients_files", ["a.csv@12345678"])
        result = dg.materialize(
            [curated, echo],
            partition_key="a.csv@12345678",
            instance=instance,
            resources={"io_manager": LakeParquetIOManager(storage=resources["storage"])},
        )
    assert result.success
    path = home / "lake" / "patients" / "curated_records" / "a.csv@12345678.parquet"
    assert path.is_file()
    pd.testing.assert_frame_equal(
        pd.read_parquet(path, dtype_backend="pyarrow")[["age"]].astype("Int64"), frame[["age"]]
    )


def test_unpartitioned_output_gets_a_folder_of_its_own(resources, home):
    @dg.asset(key=["facilities", "state_counts"])
    def state_counts() -> pd.DataFrame:
        return pd.DataFrame({"state": ["TX"], "facility_count": [3]})

    result = dg.materialize(
        [state_counts], resources={"io_manager": LakeParquetIOManager(storage=resources["storage"])}
    )
    assert result.success
    assert (home / "lake" / "facilities" / "state_counts" / "data.parquet").is_file()
    assert not list((home / "lake" / "facilities" / "state_counts").glob(".*partial"))
