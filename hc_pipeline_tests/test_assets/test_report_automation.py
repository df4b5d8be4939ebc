"""The facility reports refresh by themselves after new files, once per batch, and honour as_of/horizon."""

import dagster as dg

from hc_pipeline.partitions import files_partitions, partition_key_for
from hc_pipeline.planner import run_tags
from hc_pipeline.runner import run_pending
from hc_pipeline_tests.conftest import RUN_DATE

REPORTS = [dg.AssetKey(["facilities", n]) for n in ("facility_metrics", "expiring_accreditations", "state_counts")]
FACILITY = (
    b'{"facility_id": "FAC-1", "facility_name": "A", "state": "TX", "employee_count": 5, "services": ["x"], '
    b'"accreditations": [{"name": "DNV", "expiry_date": "%s"}]}'
)


def land_and_curate(defs, instance, land, name: str, expiry: str) -> None:
    obj = land(f"facilities/{name}", FACILITY % expiry.encode())
    key = partition_key_for(obj.key, obj.version)
    instance.add_dynamic_partitions("facilities_files", [key])
    per_file = [a for a in defs.assets if a.partitions_def == files_partitions["facilities"]]
    result = dg.materialize(
        per_file, partition_key=key, instance=instance, resources=defs.resources, tags=run_tags(obj)
    )
    assert result.success


def test_reports_are_requested_after_new_files_then_not_again(defs, instance, land):
    cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
    land_and_curate(defs, instance, land, "a.json", "2030-01-01")
    land_and_curate(defs, instance, land, "b.json", "2030-01-02")
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    assert {k for k in REPORTS if first.get_num_requested(k)} == set(REPORTS)
    assert all(first.get_num_requested(k) == 1 for k in REPORTS)  # one refresh for the batch of two files
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert second.total_requested == 0


def test_run_passes_as_of_and_horizon_to_the_reports(defs, instance, land, resources):
    land("facilities/a.json", FACILITY % b"2025-07-30")  # 30 days after RUN_DATE
    run_pending(defs, instance, RUN_DATE, horizon_days=29)
    engine = resources["query_engine"]
    assert engine.query("SELECT count(*) AS n FROM facilities_expiring_accreditations")["n"].iloc[0] == 0
    land("facilities/b.json", FACILITY.replace(b"FAC-1", b"FAC-2") % b"2025-07-30")
    run_pending(defs, instance, RUN_DATE, horizon_days=30)
    tiers = engine.query("SELECT facility_id, days_to_expiry, tier FROM facilities_expiring_accreditations ORDER BY 1")
    assert tiers.values.tolist() == [["FAC-1", 30, "critical"], ["FAC-2", 30, "critical"]]
