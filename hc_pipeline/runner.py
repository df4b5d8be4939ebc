"""Process every landed object not yet processed, in-process, as the sensors would; then refresh reports."""

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from hc_pipeline.assets.domains import DATED, PER_FILE, REPORTS
from hc_pipeline.partitions import DOMAINS
from hc_pipeline.planner import plan_launches
from hc_pipeline.review_runs import DecisionsOutcome, apply_pending_decisions
from hc_pipeline.run_checks import tag_failed_checks
from hc_pipeline.run_dates import RunDates, run_config


@dataclass
class RunSummary:
    """What one `run` did: partitions processed, files stopped by a blocking check, runs that broke."""

    processed: dict[str, list[str]] = field(default_factory=dict)
    stopped_by_checks: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reports_refreshed: list[str] = field(default_factory=list)
    failed_checks: dict[str, list[str]] = field(default_factory=dict)  # landed file -> its failing check names
    decisions: dict[str, DecisionsOutcome] = field(default_factory=dict)


def instance_for(home: Path) -> dg.DagsterInstance:
    """The Dagster instance under `<home>/dagster`, the one `make dev` also uses."""
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(dagster_home))


def run_pending(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    run_date: dt.date | None = None,
    horizon_days: int | None = None,
) -> RunSummary:
    """Materialize each new object version's per-file assets, then the domain reports once."""
    resources = defs.resources
    dates = RunDates.for_run(run_date, horizon_days)
    summary = RunSummary()
    for domain in DOMAINS:
        objects = sorted(resources["landing"].list_objects(domain), key=lambda o: (o.last_modified, o.key))
        plan = plan_launches(domain, objects, instance)
        plan.add_partitions(instance)
        done = summary.processed.setdefault(domain, [])
        curated_any = False
        for run in plan.runs:
            result = dg.materialize(
                PER_FILE[domain],
                partition_key=run.partition_key,
                instance=instance,
                resources=resources,
                tags=run.tags,
                run_config=quiet(run_config(PER_FILE[domain], DATED, dates)),
                raise_on_error=False,
            )
            done.append(run.partition_key)
            failing = tag_failed_checks(instance, result.dagster_run).get(run.partition_key)
            if failing:
                summary.failed_checks[run.obj.key] = failing
            curated_any = curated_any or result.success
            if not result.success:
                where = f"{run.obj.key} ({run.partition_key})"
                (summary.stopped_by_checks if stopped_by_checks(result) else summary.failed).append(where)
        decisions = apply_pending_decisions(
            domain, PER_FILE[domain], instance, resources, run_config(PER_FILE[domain], DATED, dates)
        )
        summary.decisions[domain] = decisions
        curated_any = curated_any or bool(decisions.recurated)
        # As under the daemon: reports refresh after new curated data, not after files that were refused.
        if curated_any:
            reports = REPORTS[domain]
            refreshed = dg.materialize(
                reports, instance=instance, resources=resources, run_config=quiet(run_config(reports, DATED, dates))
            )
            tag_failed_checks(instance, refreshed.dagster_run)
            summary.reports_refreshed += [k.to_user_string() for a in reports for k in a.keys]
    return summary


def quiet(config: dg.RunConfig) -> dg.RunConfig:
    """The run config with a silent console logger: events, including a blocking check stopping a bad file, go to the
    instance (the UI shows them); the terminal gets the command's own summary, so bad data never reads as a crash."""
    return dg.RunConfig(ops=config.ops, loggers={"console": {"config": {"log_level": "CRITICAL"}}})


def stopped_by_checks(result: dg.ExecuteInProcessResult) -> bool:
    """A failed run whose every failed step is one that reported a failing blocking check: bad data, no crash."""
    blocked = {
        event.step_key
        for event in result.filter_events(lambda e: e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        if not event.asset_check_evaluation_data.passed and event.asset_check_evaluation_data.blocking
    }
    failed = set(result.get_failed_step_keys())
    return bool(failed) and failed <= blocked
