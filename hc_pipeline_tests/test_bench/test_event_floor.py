"""The event floor records for each file what a batch run records for a processed admissions file."""

import contextlib
from collections import Counter

import dagster as dg
import numpy as np

from bench import event_floor
from bench.inputs import DEFECT_RATE, RUN_DATE
from hc_pipeline.generate.patients import build_patient_files
from hc_pipeline.runner import instance_for, run_pending

RECORDED = (dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION)


def test_the_floor_records_per_file_the_events_of_a_processed_file(defs, instance, land, tmp_path):
    (generated,) = build_patient_files(np.random.default_rng(3), 100, 1, DEFECT_RATE, RUN_DATE)
    land(f"patients/{generated.name}", generated.frame.to_csv(index=False).encode())
    assert run_pending(defs, instance, RUN_DATE).processed["patients"]

    found = event_floor.record_events(contextlib.nullcontext(), home=str(tmp_path / "floor"), files=3)

    [processed] = _per_partition(instance).values()
    floor = _per_partition(instance_for(tmp_path / "floor"))
    assert len(floor) == 3 and all(events == processed for events in floor.values())
    assert found["events_per_file"] == sum(processed.values()) == 12


def _per_partition(instance: dg.DagsterInstance) -> dict[str, Counter]:
    """Each file partition's recorded events as (type, asset, check) counts."""
    events: dict[str, Counter] = {}
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None or event.event_type not in RECORDED:
                continue
            data = event.event_specific_data
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                key, check, partition = data.materialization.asset_key, None, data.materialization.partition
            else:
                key, check, partition = data.asset_key, data.check_name, data.partition
            if partition is not None:  # the domain reports, once per run
                events.setdefault(partition, Counter())[(event.event_type_value, key.to_user_string(), check)] += 1
    return events
