"""Reports are rebuilt by `run` whenever they are missing or older than the newest curated data."""

from hc_pipeline.runner import run_pending
from hc_pipeline_tests.conftest import RUN_DATE
from hc_pipeline_tests.test_assets.test_report_automation import FACILITY, REPORTS


def test_missing_reports_are_rebuilt_by_a_run_with_no_new_files(defs, instance, land):
    land("facilities/a.json", FACILITY % b"2030-01-01")
    assert run_pending(defs, instance, RUN_DATE).reports_refreshed
    instance.wipe_assets([REPORTS[0]])  # as after a report refresh killed half-way
    again = run_pending(defs, instance, RUN_DATE)
    assert again.processed["facilities"] == [] and REPORTS[0].to_user_string() in again.reports_refreshed
    assert instance.get_latest_materialization_event(REPORTS[0]) is not None
    assert run_pending(defs, instance, RUN_DATE).reports_refreshed == []
