"""A file's run hands its tables on as handles to the lake files its steps wrote: the run holds no frames."""

import dagster as dg
import pyarrow.parquet as pq

from hc_pipeline.assets.domains import DATED, PER_FILE
from hc_pipeline.io_managers.parquet import lake_file
from hc_pipeline.planner import plan_launches
from hc_pipeline.run_dates import RunDates, run_config
from hc_pipeline.stores.file_table import FileTable
from hc_pipeline_tests.conftest import RUN_DATE
from hc_pipeline_tests.test_curation.test_rules import CSV

OUTPUTS = {
    ("patients_curated_records", "curated_records"): "curated_records",
    ("patients_curated_records", "quarantined_records"): "quarantined_records",
    ("patients_curated_records", "exceptions"): "exceptions",
    ("patients__anomaly_report", "result"): "anomaly_report",
}


def test_a_file_run_captures_handles_to_its_written_tables_not_frames(defs, instance, land, resources):
    land("patients/a.csv", CSV)
    plan = plan_launches("patients", resources["landing"].list_objects("patients"), instance)
    plan.add_partitions(instance)
    [run] = plan.runs
    assets = PER_FILE["patients"]
    result = dg.materialize(
        assets,
        partition_key=run.partition_key,
        instance=instance,
        resources=defs.resources,
        tags=run.tags,
        run_config=run_config(assets, DATED, RunDates.for_run(RUN_DATE)),
    )
    assert result.success
    quarantined = 0
    for (node, output), table in OUTPUTS.items():
        value = result.output_for_node(node, output)
        # Dagster keeps each output to the run's end: a handle there costs nothing, a large file's frame hundreds of MB.
        assert isinstance(value, FileTable), (node, output)
        path = lake_file(resources["storage"], dg.AssetKey(["patients", table]), run.partition_key)
        assert str(value.path) == str(path)
        assert value.num_rows == pq.read_metadata(path).num_rows
        quarantined += value.num_rows if table == "quarantined_records" else 0
    assert quarantined
