"""Sensors that tell people: a failed run, or a failing ERROR asset check, through the `notifier` resource."""

import dagster as dg

from hc_pipeline.notifications import check_failure_message, run_failure_message
from hc_pipeline.resources.notifier import Notifier

PARTITION_TAG = "dagster/partition"
EVENTS_PER_TICK = 500


def run_asset_keys(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    """The assets a run targets: its asset selection, else its steps' assets from the plan, else its step keys."""
    if run.asset_selection:
        return sorted(k.to_user_string() for k in run.asset_selection)
    steps = set(run.step_keys_to_execute or [])
    # Jobs launched by sensors carry no asset selection; the plan snapshot maps steps to the assets they write.
    snapshot = (
        instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id) if run.execution_plan_snapshot_id else None
    )
    if snapshot is not None:
        keys = {
            output.properties.asset_key.to_user_string()
            for step in snapshot.steps
            if not steps or step.key in steps
            for output in step.outputs
            if output.properties is not None and output.properties.asset_key is not None
        }
        if keys:
            return sorted(keys)
    return sorted(steps)


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
    description="Notifies the notifier resource of every failed run in this code location: run id, job, assets, error.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, notifier: Notifier):
    # The run-level message names the failed steps only; step exception text could quote data, so it stays in Dagster.
    run = context.dagster_run
    subject, message = run_failure_message(
        run.run_id,
        run.job_name,
        run_asset_keys(context.instance, run),
        context.failure_event.message or "no failure message recorded",
    )
    notifier.notify(subject, message)


def _metadata_value(metadata, key: str):
    value = metadata.get(key)
    return getattr(value, "value", value)


def failing_check_notice(evaluation, partition: str | None) -> tuple[str, str] | None:
    """The (subject, message) for a failed ERROR evaluation; None for a pass or a WARN."""
    if evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR:
        return None
    failing = _metadata_value(evaluation.metadata, "failing_rows")
    reason = _metadata_value(evaluation.metadata, "reason")
    return check_failure_message(
        evaluation.asset_key,
        evaluation.check_name,
        evaluation.partition or partition,
        int(failing) if isinstance(failing, (int, float)) and not isinstance(failing, bool) else None,
        str(reason) if reason is not None else None,
    )


def check_failure_alert_sensor(
    name: str = "check_failure_alert_sensor",
    minimum_interval_seconds: int = 30,
    events_per_tick: int = EVENTS_PER_TICK,
) -> dg.SensorDefinition:
    """A sensor that notifies once per failed ERROR asset check evaluation, in event-log order."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Notifies the notifier resource once per failed ERROR asset check (asset, check, partition, count).",
    )
    def _sensor(context: dg.SensorEvaluationContext, notifier: Notifier):
        after = int(context.cursor) if context.cursor else -1
        # This reads the cross-run index, where check evaluations are mirrored even on run-sharded SQLite;
        # instance.get_event_records would need a run-sharded cursor there and is deprecated.
        entries = context.instance.event_log_storage.get_logs_for_all_runs_by_log_id(
            after_cursor=after,
            dagster_event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            limit=events_per_tick,
        )
        partitions: dict[str, str | None] = {}
        sent = 0
        for storage_id, entry in sorted(entries.items()):
            evaluation = entry.dagster_event.event_specific_data
            if evaluation.partition is None and entry.run_id not in partitions:
                run = context.instance.get_run_by_id(entry.run_id)
                partitions[entry.run_id] = run.tags.get(PARTITION_TAG) if run else None
            notice = failing_check_notice(evaluation, partitions.get(entry.run_id))
            if notice is not None:
                try:
                    notifier.notify(*notice)
                except Exception as error:  # the cursor stops before this evaluation so the next tick retries it
                    context.log.exception("check failure notification not delivered")
                    return dg.SensorResult(
                        skip_reason=f"notifier failed after {sent} notification(s): {type(error).__name__}: {error}",
                        cursor=str(after),
                    )
                sent += 1
            after = storage_id
        if not entries:
            return dg.SensorResult(skip_reason="no new asset check evaluations", cursor=str(after))
        return dg.SensorResult(
            skip_reason=f"{sent} failing ERROR check(s) notified out of {len(entries)} evaluation(s)",
            cursor=str(after),
        )

    return _sensor
