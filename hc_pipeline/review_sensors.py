"""Under the daemon: a decisions file landed is judged in its own run; once applied, its files are re-curated."""

import dagster as dg

from hc_pipeline.assets.review import affected_partitions, decisions_partitions
from hc_pipeline.landing_cursor import LandingCursor, plan_tick
from hc_pipeline.partitions import partition_key_for
from hc_pipeline.planner import already_run, run_tags
from hc_pipeline.resources.landing import LandingZone
from hc_pipeline.review.landing import decisions_prefix, partition_name


def decisions_job(domain: str, decisions: dg.AssetsDefinition):
    """Judge (and record) one decisions file: one partition of `<domain>/decisions`."""
    return dg.define_asset_job(
        name=f"{domain}_decisions_job",
        selection=dg.AssetSelection.assets(decisions),
        partitions_def=decisions_partitions[domain],
        description=f"Judge one landed {domain} decisions file, whole.",
        executor_def=dg.in_process_executor,
    )


DECISIONS_TAG = "hc/decisions_file"
BUSY = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def decisions_landing_sensor(domain: str, job, interval_seconds: int = 15):
    """A sensor over `landing/_decisions/<domain>/`: one partition and one run per new decisions file."""
    partitions = decisions_partitions[domain]
    prefix = decisions_prefix(domain)

    @dg.sensor(
        name=f"{domain}_decisions_sensor",
        job=job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests a run of {domain}/decisions for every decisions file landed under landing/{prefix}/.",
    )
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
        cursor = LandingCursor.load(context.cursor)
        if busy(context.instance, job.name, domain):
            return dg.SkipReason(f"a {domain} decisions file is still being applied; the next waits for it")
        try:
            objects = list(landing.list_objects(prefix))
        except Exception as error:  # retried next tick; the cursor stays put
            return dg.SkipReason(f"listing landing/{prefix}/ failed: {type(error).__name__}: {error}")
        # One at a time, in landing order: each file is judged against what the earlier ones closed.
        chosen, after = plan_tick(objects, cursor, 1)
        done = already_run(context.instance, chosen)
        chosen = [o for o in chosen if o.run_key not in done]
        if not chosen:
            return dg.SensorResult(skip_reason=f"no new decisions files among {len(objects)}", cursor=after.dump())
        keys = [partition_key_for(partition_name(o.key), o.version) for o in chosen]
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=o.run_key, partition_key=key, tags=run_tags(o)) for o, key in zip(chosen, keys)
            ],
            dynamic_partitions_requests=[partitions.build_add_request(keys)],
            cursor=after.dump(),
        )

    return _sensor


def busy(instance: dg.DagsterInstance, decisions_job_name: str, domain: str) -> bool:
    """A decisions run, or a re-curation it asked for, of this domain is queued or running."""
    judging = instance.get_runs(filters=dg.RunsFilter(job_name=decisions_job_name, statuses=BUSY), limit=1)
    recurating = instance.get_runs(filters=dg.RunsFilter(tags={"hc/domain": domain}, statuses=BUSY), limit=1)
    return bool(judging or recurating)


def recuration_sensor(domain: str, file_job, per_file: list[dg.AssetsDefinition], interval_seconds: int = 15):
    """After `<domain>/decisions` records an applied file, re-run the curation of each file it decides."""
    rerun = [k for a in per_file for k in a.keys if k.path[-1] != "raw_records"]

    @dg.asset_sensor(
        name=f"{domain}_recuration_sensor",
        asset_key=dg.AssetKey([domain, "decisions"]),
        job=file_job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Re-curates the {domain} files an applied decisions file touches (refused files touch none).",
    )
    def _sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
        materialization = asset_event.asset_materialization
        partitions = affected_partitions(materialization) if materialization else []
        source = materialization.metadata.get("decisions_file") if materialization else None
        if not partitions:
            return dg.SkipReason("the decisions file was refused or decided nothing: no file to re-curate")
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"{asset_event.run_id}:{partition}",
                    partition_key=partition,
                    asset_selection=rerun,
                    tags={DECISIONS_TAG: str(source.value) if source else "", "hc/domain": domain},
                )
                for partition in partitions
            ]
        )

    return _sensor
