"""Runs tell the truth: a run whose checks failed carries `hc/failed_checks=<names>`, set once its checks are in."""

from collections.abc import Iterable

import dagster as dg

FAILED_CHECKS_TAG = "hc/failed_checks"
PARTITION_TAG = "dagster/partition"


def failing_checks_by_partition(evaluations: Iterable, run_partition: str | None = None) -> dict[str | None, list[str]]:
    """Failed check names (WARN and ERROR) per file partition, in the order they were evaluated."""
    failing: dict[str | None, list[str]] = {}
    for evaluation in evaluations:
        if not evaluation.passed:
            names = failing.setdefault(evaluation.partition or run_partition, [])
            if evaluation.check_name not in names:
                names.append(evaluation.check_name)
    return failing


def run_evaluations(instance: dg.DagsterInstance, run_id: str) -> list:
    """Every asset check evaluation a run recorded."""
    entries = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return [entry.dagster_event.event_specific_data for entry in entries]


def tag_failed_checks(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dict[str | None, list[str]]:
    """Add `hc/failed_checks` to a finished run whose checks failed; return the failing checks per partition."""
    failing = failing_checks_by_partition(run_evaluations(instance, run.run_id), run.tags.get(PARTITION_TAG))
    names = sorted({name for names in failing.values() for name in names})
    if names:
        instance.add_run_tags(run.run_id, {FAILED_CHECKS_TAG: ",".join(names)})
    return failing


def failed_checks_tag_sensor(status: dg.DagsterRunStatus, interval_seconds: int = 15) -> dg.SensorDefinition:
    """A run-status sensor that tags the daemon's finished runs (one for successes, one for failures)."""

    @dg.run_status_sensor(
        run_status=status,
        name=f"failed_checks_tag_sensor_{status.value.lower()}",
        minimum_interval_seconds=interval_seconds,
        monitor_all_code_locations=False,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Tags each {status.value.lower()} run whose asset checks failed with {FAILED_CHECKS_TAG}.",
    )
    def _sensor(context: dg.RunStatusSensorContext):
        tag_failed_checks(context.instance, context.dagster_run)

    return _sensor
