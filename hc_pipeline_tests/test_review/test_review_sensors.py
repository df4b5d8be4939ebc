"""Under the daemon: the decisions sensor judges each landed decisions file; the re-curation sensor applies it."""

import dagster as dg
import pandas as pd

from hc_pipeline.assets.domains import PER_FILE
from hc_pipeline.assets.review import decisions
from hc_pipeline.partitions import files_partitions, partition_key_for
from hc_pipeline.planner import run_tags
from hc_pipeline.review.commands import apply_decisions, export_open_exceptions
from hc_pipeline_tests.conftest import process
from hc_pipeline_tests.test_review.seed import ADMISSIONS, decided


def tick(defs, instance, name, cursor=None):
    sensor = defs.get_sensor_def(name)
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources) as context:
        return sensor(context)


def test_a_landed_decisions_file_is_judged_then_its_file_recurated(defs, instance, land, resources, home):
    land("patients/admissions.csv", ADMISSIONS.encode())
    process(defs, instance)
    export_open_exceptions("patients", home / "open.csv", None)
    rows = pd.read_csv(home / "open.csv", dtype=str, keep_default_na=False)
    (home / "d.csv").write_text(decided(rows.to_csv(index=False), {6: ("correct", "typo", {"age": "51"})}))
    assert apply_decisions("patients", home / "d.csv", "dana") == 0
    (obj,) = resources["landing"].list_objects("_decisions/patients")

    # The data sensor never takes the decisions file for a data file (the data file already ran).
    data_tick = tick(defs, instance, "patients_landing_sensor")
    assert data_tick.run_requests == [] and "among 1" in data_tick.skip_reason.skip_message

    first = tick(defs, instance, "patients_decisions_sensor")
    (request,) = first.run_requests
    assert request.partition_key == partition_key_for(obj.key.split("/", 1)[1], obj.version)
    assert request.run_key == obj.run_key and request.tags["hc/object_key"] == obj.key
    assert first.dynamic_partitions_requests[0].partitions_def_name == "patients_decisions"
    assert tick(defs, instance, "patients_decisions_sensor", first.cursor).run_requests == []

    instance.add_dynamic_partitions("patients_decisions", [request.partition_key])
    judged = dg.materialize(
        [decisions["patients"]],
        partition_key=request.partition_key,
        instance=instance,
        resources=defs.resources,
        tags=run_tags(obj),
    )
    assert judged.success

    sensor = defs.get_sensor_def("patients_recuration_sensor")
    with dg.build_sensor_context(instance=instance, resources=defs.resources, definitions=defs) as context:
        (recurate,) = list(sensor(context))
    (again,) = recurate.run_requests
    file_key = instance.get_dynamic_partitions(files_partitions["patients"].name)[0]
    assert again.partition_key == file_key and again.tags["hc/decisions_file"] == obj.key
    assert dg.AssetKey(["patients", "raw_records"]) not in again.asset_selection
    assert dg.AssetKey(["patients", "exceptions"]) in again.asset_selection
    result = dg.materialize(
        PER_FILE["patients"],
        selection=again.asset_selection,
        partition_key=again.partition_key,
        instance=instance,
        resources=defs.resources,
    )
    assert result.success
    engine = resources["query_engine"]
    fixed = engine.query("SELECT age, resolution FROM patients_curated_records WHERE source_row = 6")
    assert fixed.to_dict("records") == [{"age": 51, "resolution": "corrected"}]
