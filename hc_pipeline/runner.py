"""Process every landed object not yet processed, in-process, as the sensors would; then refresh reports."""

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from hc_pipeline.assets.landed import run_tags
from hc_pipeline.partitions import DOMAINS, files_partitions, partition_key_for


@dataclass
class RunSummary:
    """What one `run` did: partitions processed, files stopped by a blocking check, runs that broke."""

    processed: dict[str, list[str]] = field(default_factory=dict)
    stopped_by_checks: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reports_refreshed: list[str] = field(default_factory=list)


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
    landing = resources["landing"]
    summary = RunSummary()
    for domain in DOMAINS:
        per_file = [a for a in _assets(defs) if _is_domain(a, domain) and a.partitions_def]
        if not per_file:
            continue
        partitions = files_partitions[domain]
        known = set(instance.get_dynamic_partitions(partitions.name))
        objects = sorted(landing.list_objects(domain), key=lambda o: (o.last_modified, o.key))
        done = summary.processed.setdefault(domain, [])
        curated_any = False
        for obj in objects:
            key = partition_key_for(obj.key, obj.version)
            if key in known:
                continue
            instance.add_dynamic_partitions(partitions.name, [key])
            known.add(key)
            result = dg.materialize(
                per_file,
                partition_key=key,
                instance=instance,
                resources=resources,
                # The sensor's dedupe looks for this tag, so a version run here is never run there too.
                tags={**run_tags(obj), "dagster/run_key": obj.run_key},
                run_config=_run_config(per_file, run_date, None),
                raise_on_error=False,
            )
            done.append(key)
            curated_any = curated_any or result.success
            if not result.success:
                errors = {e.step_failure_data.error.cls_name for e in result.get_step_failure_events()}
                stopped = errors == {"DagsterAssetCheckFailedError"}
                (summary.stopped_by_checks if stopped else summary.failed).append(f"{obj.key} ({key})")
        reports = [a for a in _assets(defs) if _is_domain(a, domain) and not a.partitions_def]
        # As under the daemon: reports refresh after new curated data, not after files that were refused.
        if reports and curated_any:
            dg.materialize(
                reports,
                instance=instance,
                resources=resources,
                run_config=_run_config(reports, run_date, horizon_days),
            )
            summary.reports_refreshed += [k.to_user_string() for a in reports for k in a.keys]
    return summary


def _assets(defs: dg.Definitions) -> list[dg.AssetsDefinition]:
    return [a for a in (defs.assets or []) if isinstance(a, dg.AssetsDefinition)]


def _is_domain(asset: dg.AssetsDefinition, domain: str) -> bool:
    return all(key.path[0] == domain for key in asset.keys)


def _run_config(assets: list[dg.AssetsDefinition], run_date: dt.date | None, horizon_days: int | None) -> dict:
    """Pass the run date (and horizon) to every op that takes such config."""
    ops = {}
    for asset in assets:
        fields = _config_fields(asset)
        config = {}
        if run_date and "run_date" in fields:
            config["run_date"] = run_date.isoformat()
        if run_date and "as_of" in fields:
            config["as_of"] = run_date.isoformat()
        if horizon_days is not None and "horizon_days" in fields:
            config["horizon_days"] = horizon_days
        if config:
            ops[asset.op.name] = {"config": config}
    return {"ops": ops}


def _config_fields(asset: dg.AssetsDefinition) -> set[str]:
    schema = asset.op.config_schema
    config_type = schema.config_type if schema else None
    return set(getattr(config_type, "fields", {}) or {})
