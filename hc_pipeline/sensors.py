"""Landing sensors: each new object version becomes a dynamic partition and one run."""

import time

import dagster as dg

from hc_pipeline.landing_cursor import LOOKBACK_SECONDS, LandingCursor, plan_tick
from hc_pipeline.planner import plan_launches
from hc_pipeline.resources.landing import LandingZone

MAX_RUNS_PER_TICK = 50


def landing_sensor(domain: str, job, max_runs: int = MAX_RUNS_PER_TICK, interval_seconds: int = 15):
    """A sensor over `landing/<domain>/` that requests one run per new object version."""

    @dg.sensor(
        name=f"{domain}_landing_sensor",
        job=job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Adds a partition and requests a run for every new object version under landing/{domain}/.",
    )
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
        cursor = LandingCursor.load(context.cursor)
        now = time.time()
        # A key sorting before `high_key` is seen by the next full listing: within the lookback, so never lost.
        every = min(landing.full_listing_seconds, LOOKBACK_SECONDS / 2)
        full = cursor.wants_full_listing(now, every, landing.full_listing_below)
        try:
            objects = list(landing.list_objects(domain, start_after=None if full else cursor.high_key))
        except Exception as error:  # the listing is retried next tick; the cursor stays put
            return dg.SkipReason(f"listing landing/{domain}/ failed: {type(error).__name__}: {error}")
        chosen, after = plan_tick(objects, cursor, max_runs, full_listing_at=now if full else None)
        plan = plan_launches(domain, chosen, context.instance)
        if not plan.runs:
            listing = "full listing" if full else f"listing after {cursor.high_key}"
            return dg.SensorResult(skip_reason=f"no new objects among {len(objects)} ({listing})", cursor=after.dump())
        return dg.SensorResult(
            run_requests=[run.run_request() for run in plan.runs],
            dynamic_partitions_requests=[plan.add_partitions_request()],
            cursor=after.dump(),
        )

    return _sensor
