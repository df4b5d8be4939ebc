"""Landing sensors: each new object version becomes a dynamic partition and one run."""

import dagster as dg

from hc_pipeline.assets.landed import run_tags
from hc_pipeline.landing_cursor import LandingCursor, plan_tick
from hc_pipeline.partitions import files_partitions, partition_key_for
from hc_pipeline.resources.landing import LandingZone

MAX_RUNS_PER_TICK = 50


def landing_sensor(domain: str, job, max_runs: int = MAX_RUNS_PER_TICK):
    """A sensor over `landing/<domain>/` that requests one run per new object version."""
    partitions = files_partitions[domain]

    @dg.sensor(
        name=f"{domain}_landing_sensor",
        job=job,
        minimum_interval_seconds=15,
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
        if not chosen:
            return dg.SensorResult(skip_reason=f"no new objects among {len(objects)}", cursor=after.dump())
        keys = [partition_key_for(o.key, o.version) for o in chosen]
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=o.run_key, partition_key=key, tags=run_tags(o))
                for o, key in zip(chosen, keys)
            ],
            dynamic_partitions_requests=[partitions.build_add_request(keys)],
            cursor=after.dump(),
        )

    return _sensor
