"""Landing sensors: each new object version becomes a dynamic partition and one run."""

import dagster as dg

from hc_pipeline.assets.landed import run_tags
from hc_pipeline.landing_cursor import LandingCursor, plan_tick
from hc_pipeline.partitions import files_partitions, partition_key_for
from hc_pipeline.resources.landing import LandedObject, LandingZone

MAX_RUNS_PER_TICK = 50
RUN_KEY_TAG = "dagster/run_key"


def landing_sensor(domain: str, job, max_runs: int = MAX_RUNS_PER_TICK, interval_seconds: int = 15):
    """A sensor over `landing/<domain>/` that requests one run per new object version."""
    partitions = files_partitions[domain]

    @dg.sensor(
        name=f"{domain}_landing_sensor",
        job=job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Adds a partition and requests a run for every new object version under landing/{domain}/.",
    )
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
        cursor = LandingCursor.load(context.cursor)
        try:
            objects = list(landing.list_objects(domain))
        except Exception as error:  # the listing is retried next tick; the cursor stays put
            return dg.SkipReason(f"listing landing/{domain}/ failed: {type(error).__name__}: {error}")
        chosen, after = plan_tick(objects, cursor, max_runs)
        done = already_run(context.instance, chosen)
        chosen = [o for o in chosen if o.run_key not in done]
        if not chosen:
            return dg.SensorResult(skip_reason=f"no new objects among {len(objects)}", cursor=after.dump())
        keys = [partition_key_for(o.key, o.version) for o in chosen]
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=o.run_key, partition_key=key, tags=run_tags(o)) for o, key in zip(chosen, keys)
            ],
            dynamic_partitions_requests=[partitions.build_add_request(keys)],
            cursor=after.dump(),
        )

    return _sensor


def already_run(instance: dg.DagsterInstance, objects: list[LandedObject]) -> set[str]:
    """Run keys among `objects` that a run already carries, so a reset cursor never runs an ETag twice."""
    if not objects:
        return set()
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: [o.run_key for o in objects]}))
    return {run.tags[RUN_KEY_TAG] for run in runs}
