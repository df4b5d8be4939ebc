"""Process every landed object not yet processed, in-process, as the sensors would; then refresh reports."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import dagster as dg

from hc_pipeline.assets.domains import DATED, PER_FILE, REPORTS
from hc_pipeline.batch_job import batch_jobs
from hc_pipeline.batches import DONE, FAILED, FileBatch, file_tag
from hc_pipeline.freed_memory import release_freed_memory
from hc_pipeline.partitions import DOMAINS
from hc_pipeline.planner import (
    BY_RUN,
    IN_FLIGHT,
    INTERRUPTED,
    OUTCOME_TAG,
    REASON_TAG,
    RUN_KEY_TAG,
    STOPPED_BY_CHECKS,
    FileRun,
    plan_launches,
)
from hc_pipeline.progress import FileProgress, shown_to
from hc_pipeline.review_runs import DecisionsOutcome, apply_pending_decisions
from hc_pipeline.run_checks import tag_failed_checks
from hc_pipeline.run_dates import RunDates, run_config
from hc_pipeline.stores.outage import StoreUnavailable, outage_in, outage_of

DIED = "the process ended before the run finished (killed or crashed)"
STAY_PENDING = "files not yet processed stay pending"
BATCH_JOBS = batch_jobs()
# Which per-file checks block, by name, from their specs (a batch records its evaluations without the flag).
BLOCKING = {spec.key.name: spec.blocking for assets in PER_FILE.values() for a in assets for spec in a.check_specs}


class RunInterrupted(Exception):
    """`run` was stopped by a signal; the file it was processing stays pending."""


@dataclass
class RunSummary:
    """What one `run` did: partitions processed, files stopped by a blocking check, runs that broke."""

    processed: dict[str, list[str]] = field(default_factory=dict)
    stopped_by_checks: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)
    reports_refreshed: list[str] = field(default_factory=list)
    reports_failed: list[str] = field(default_factory=list)
    failed_checks: dict[str, list[str]] = field(default_factory=dict)  # landed file -> its failing check names
    decisions: dict[str, DecisionsOutcome] = field(default_factory=dict)
    abandoned_runs: int = 0


def instance_for(home: Path) -> dg.DagsterInstance:
    """The Dagster instance under `<home>/dagster`, the one `make dev` also uses (open it under the home lock)."""
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(dagster_home))


def fail_abandoned_runs(instance: dg.DagsterInstance) -> int:
    """Mark failed the runs an earlier `run` left unfinished; call only while holding the HC_HOME lock."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags=BY_RUN, statuses=list(IN_FLIGHT)))
    for run in runs:
        instance.add_run_tags(run.run_id, {REASON_TAG: DIED})
        instance.report_run_failed(instance.get_run_by_id(run.run_id), message=DIED)
    return len(runs)


def fail_interrupted(instance: dg.DagsterInstance, run_key: str) -> None:
    """Record the interrupted run as failed with its reason, so the next `run` takes the file again."""
    for run in instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key})):
        instance.add_run_tags(run.run_id, {REASON_TAG: INTERRUPTED})
        if run.status in IN_FLIGHT:
            instance.report_run_failed(instance.get_run_by_id(run.run_id), message=INTERRUPTED)


def run_pending(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    run_date: dt.date | None = None,
    horizon_days: int | None = None,
    progress: TextIO | None = None,
) -> RunSummary:
    """Materialize each pending object version's per-file assets, then the domain reports when stale.

    With `progress`, a line per file goes there as it ends (n of N, rows, rows/s). Raises StoreUnavailable at the
    first store outage (endpoint down, bucket missing, access denied, disk full).
    """
    dates = RunDates.for_run(run_date, horizon_days)
    summary = RunSummary(abandoned_runs=fail_abandoned_runs(instance))
    try:
        for domain in DOMAINS:
            _run_domain(domain, defs.resources, instance, dates, summary, progress)
    except StoreUnavailable:
        raise
    except Exception as error:  # a listing or the instance itself failed outside any run
        outage = outage_of(error)
        if outage is None:
            raise
        raise StoreUnavailable(f"{outage.line(store_name(defs.resources))}; {STAY_PENDING}") from error
    return summary


def _run_domain(
    domain: str,
    resources: dict,
    instance: dg.DagsterInstance,
    dates: RunDates,
    summary: RunSummary,
    progress: TextIO | None,
):
    """The domain's pending files, then its decisions files, then its reports when stale."""
    objects = sorted(resources["landing"].list_objects(domain), key=lambda o: (o.last_modified, o.key))
    plan = plan_launches(domain, objects, instance, batch=True)
    plan.add_partitions(instance)
    summary.gave_up += [str(gave_up) for gave_up in plan.gave_up]
    summary.processed.setdefault(domain, [])
    shown = FileProgress(progress, domain, plan.files) if progress is not None else None
    here = DomainRun(domain, resources, instance, dates, summary, shown)
    for batch in plan.batches:
        _run_batch(batch, BATCH_JOBS[domain], here)
        release_freed_memory()
    runs = list(plan.runs)
    if plan.batches:  # a file its batch failed gets a run of its own, as under the sensors
        alone = plan_launches(domain, [obj for batch in plan.batches for obj in batch], instance)
        summary.gave_up += [str(gave_up) for gave_up in alone.gave_up]
        runs += alone.runs
        if shown:
            shown.total += len(alone.runs)
    for run in runs:
        _run_file(run, here)
        release_freed_memory()
    summary.decisions[domain] = apply_pending_decisions(
        domain, PER_FILE[domain], instance, resources, run_config(PER_FILE[domain], DATED, dates)
    )
    # As under the daemon: reports follow curated data (re-curated files included); rebuilt when missing or older.
    reports = REPORTS[domain]
    if reports_stale(instance, domain):
        if shown:
            shown.reports_start()
        refreshed = dg.materialize(
            reports,
            instance=instance,
            resources=resources,
            tags=BY_RUN,
            run_config=quiet(run_config(reports, DATED, dates)),
            raise_on_error=False,
        )
        tag_failed_checks(instance, refreshed.dagster_run)
        if shown:
            shown.reports_finish("refreshed" if refreshed.success else "not refreshed")
        if refreshed.success:
            summary.reports_refreshed += [k.to_user_string() for a in reports for k in a.keys_by_output_name.values()]
        else:
            stop_on_outage(refreshed, resources)
            summary.reports_failed.append(
                f"{domain} reports not refreshed, the next run rebuilds them: {failure_message(refreshed)}"
            )


@dataclass(frozen=True)
class DomainRun:
    """What the runs of one domain within one `run` share: where they run, by which dates, and what they report to."""

    domain: str
    resources: dict
    instance: dg.DagsterInstance
    dates: RunDates
    summary: RunSummary
    shown: FileProgress | None


def _run_file(run: FileRun, here: DomainRun) -> None:
    """One file in a run of its own."""
    if here.shown:
        here.shown.start(run.obj.key)
    try:
        with shown_to(here.shown.advance if here.shown else None):
            result = dg.materialize(
                PER_FILE[here.domain],
                partition_key=run.partition_key,
                instance=here.instance,
                resources=here.resources,
                tags={**run.tags, **BY_RUN},
                run_config=quiet(run_config(PER_FILE[here.domain], DATED, here.dates)),
                raise_on_error=False,
            )
    except (dg.DagsterExecutionInterruptedError, KeyboardInterrupt):
        result = None
    if result is None or interrupted(result):
        fail_interrupted(here.instance, run.run_key)
        raise RunInterrupted(f"interrupted while processing {run.obj.key}; it stays pending")
    here.summary.processed[here.domain].append(run.partition_key)
    if here.shown:
        here.shown.finish(run.obj.key, rows_read(result, here.domain), outcome_of(result))
    failing = tag_failed_checks(here.instance, result.dagster_run).get(run.partition_key)
    if failing:
        here.summary.failed_checks[run.obj.key] = failing
    if not result.success:
        where = f"{run.obj.key} ({run.partition_key})"
        if stopped_by_checks(result):
            here.instance.add_run_tags(result.run_id, {OUTCOME_TAG: STOPPED_BY_CHECKS})
            here.summary.stopped_by_checks.append(where)
            return
        here.instance.add_run_tags(result.run_id, {REASON_TAG: failure_message(result)})
        stop_on_outage(result, here.resources)
        here.summary.failed.append(f"{where} (attempt {run.attempt}): {failure_message(result)}")


def _run_batch(batch: FileBatch, job: dg.JobDefinition, here: DomainRun) -> None:
    """New files together in one run; what it failed or left is planned again, one file per run."""
    if here.shown:
        here.shown.start(f"{len(batch)} files in one run")
    try:
        result = job.execute_in_process(
            run_config={**batch.run_config(here.dates.model_dump()), **QUIET},
            instance=here.instance,
            resources=here.resources,
            tags={**batch.tags, RUN_KEY_TAG: batch.run_key, **BY_RUN},
            raise_on_error=False,
        )
    except (dg.DagsterExecutionInterruptedError, KeyboardInterrupt):
        result = None
    if result is None or interrupted(result):
        fail_interrupted(here.instance, batch.run_key)
        raise RunInterrupted(
            f"interrupted while processing {batch.objects[0].key} and {len(batch) - 1} more file(s) in one run; "
            "unfinished files stay pending"
        )
    tags = here.instance.get_run_by_id(result.run_id).tags
    failing = tag_failed_checks(here.instance, result.dagster_run)
    outcomes = batch_outcomes(here.instance, result.run_id, batch.domain)
    for obj, partition_key in zip(batch, batch.partition_keys, strict=True):
        state = tags.get(file_tag(obj))
        if state != DONE:
            continue  # planned again by itself
        here.summary.processed[batch.domain].append(partition_key)
        rows, seconds, blocked = outcomes.get(partition_key, (None, None, False))
        if here.shown:
            here.shown.finish(obj.key, rows, "stopped by a blocking check" if blocked else "done", seconds)
        if blocked:
            here.summary.stopped_by_checks.append(f"{obj.key} ({partition_key})")
        if failing.get(partition_key):
            here.summary.failed_checks[obj.key] = failing[partition_key]
    if not result.success:
        here.instance.add_run_tags(result.run_id, {REASON_TAG: failure_message(result)})
        stop_on_outage(result, here.resources)
        if FAILED not in {tags.get(file_tag(obj)) for obj in batch}:  # not explained by a file: say so
            here.summary.failed.append(
                f"batch run {result.run_id[:8]} of {len(batch)} files: {failure_message(result)}"
            )


def batch_outcomes(instance: dg.DagsterInstance, run_id: str, domain: str) -> dict[str, tuple[int | None, float, bool]]:
    """Per partition of a batch run: rows read, seconds it took, and whether a blocking check stopped it."""
    raw_key = dg.AssetKey([domain, "raw_records"])
    kinds = {
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.ASSET_MATERIALIZATION,
        dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    }
    found: dict[str, tuple[int | None, float, bool]] = {}
    previous = None
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.STEP_START:
            previous = entry.timestamp
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            if materialization.asset_key == raw_key and materialization.partition not in found:
                count = materialization.metadata.get("dagster/row_count")
                # A file's events are recorded together when it ends: the gap to the last file's is its time.
                seconds = entry.timestamp - previous if previous else 0.0
                previous = entry.timestamp
                found[materialization.partition] = (int(count.value) if count else None, seconds, False)
        else:
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed and BLOCKING.get(evaluation.check_name) and evaluation.partition in found:
                rows, seconds, _ = found[evaluation.partition]
                found[evaluation.partition] = (rows, seconds, True)
    return found


def store_name(resources: dict) -> str:
    """The storage root, and the endpoint when it is not AWS's, for the operator's line."""
    storage = resources["storage"]
    return f"{storage.root} at {storage.endpoint_url}" if storage.endpoint_url else storage.root


def stop_on_outage(result: dg.ExecuteInProcessResult, resources: dict) -> None:
    """Raise StoreUnavailable when a step failed on a store outage: every later run would fail the same way."""
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.step_failure_data.error:
            outage = outage_in(_error_chain(event.step_failure_data.error))
            if outage:
                raise StoreUnavailable(f"{outage.line(store_name(resources))}; {STAY_PENDING}")


def _error_chain(error) -> Iterator[tuple[str, str]]:
    while error is not None:
        yield error.cls_name or "", error.message or ""
        error = error.cause or error.context


def rows_read(result: dg.ExecuteInProcessResult, domain: str) -> int | None:
    """The row count the run's `raw_records` materialization recorded, if it got that far."""
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization.asset_key == dg.AssetKey([domain, "raw_records"]):
            count = materialization.metadata.get("dagster/row_count")
            return int(count.value) if count is not None else None
    return None


def outcome_of(result: dg.ExecuteInProcessResult) -> str:
    """A file's outcome in the operator's words."""
    if result.success:
        return "done"
    return "stopped by a blocking check" if stopped_by_checks(result) else "failed"


QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def quiet(config: dg.RunConfig) -> dg.RunConfig:
    """The run config with a silent console logger: events, including a blocking check stopping a bad file, go to the
    instance (the UI shows them); the terminal gets the command's own summary, so bad data never reads as a crash."""
    return dg.RunConfig(ops=config.ops, loggers=QUIET["loggers"])


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey) -> float | None:
    event = instance.get_latest_materialization_event(key)
    return event.timestamp if event else None


def reports_stale(instance: dg.DagsterInstance, domain: str) -> bool:
    """True when curated data exists and some report is missing or older than the newest curated file."""
    curated = [k for a in PER_FILE[domain] for k in a.keys if "curated" in k.to_user_string()]
    newest = max((t for t in (_latest(instance, k) for k in curated) if t is not None), default=None)
    if newest is None:
        return False
    report_times = [_latest(instance, k) for a in REPORTS[domain] for k in a.keys]
    return any(t is None or t < newest for t in report_times)


def interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """True when the run ended because the process was told to stop (SIGTERM/SIGINT), not because it broke."""
    for event in result.all_events:
        if event.event_type in (dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.STEP_FAILURE):
            error = event.event_specific_data.error if event.event_specific_data else None
            if error and error.cls_name in ("DagsterExecutionInterruptedError", "KeyboardInterrupt"):
                return True
    return False


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The first line of the first step failure, for the run tag and the operator's one line."""
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.step_failure_data.error:
            *_, (_, message) = _error_chain(event.step_failure_data.error)  # the root cause, not "max_retries"
            lines = message.strip().splitlines()
            return f"{event.step_key}: {lines[-1] if lines else 'failed'}"[:300]
    return "run failed"


def stopped_by_checks(result: dg.ExecuteInProcessResult) -> bool:
    """A failed run whose every failed step is one that reported a failing blocking check: bad data, no crash."""
    blocked = {
        event.step_key
        for event in result.filter_events(lambda e: e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        if not event.asset_check_evaluation_data.passed and event.asset_check_evaluation_data.blocking
    }
    failed = set(result.get_failed_step_keys())
    return bool(failed) and failed <= blocked
