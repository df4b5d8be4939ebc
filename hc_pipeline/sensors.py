"""Landing sensors: each new object version becomes a dynamic partition; new ones share batch runs."""

import time

import dagster as dg

from hc_pipeline.batches import batch_objects
from hc_pipeline.landing_cursor import LOOKBACK_SECONDS, LandingCursor, plan_tick
from hc_pipeline.planner import LaunchPlan, object_of, plan_launches, set_aside_runs
from hc_pipeline.resources.landing import LandedObject, LandingZone

MAX_RUNS_PER_TICK = 50
RECENT_FAILURES = 200


def landing_sensor(domain: str, job, batch_job, max_runs: int = MAX_RUNS_PER_TICK, interval_seconds: int = 15):
    """A sensor over `landing/<domain>/` that requests runs for new object versions: new ones in batches, a retry
    or a lone new file in a run of its own."""

    name = f"{domain}_landing_sensor"

    @dg.sensor(
        name=name,
        jobs=[job, batch_job],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Adds a partition for every new object version under landing/{domain}/ and requests runs: "
        "new files together in batch runs, retries one file per run.",
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
        # Retries take slots only when they launch: a version that failed once and then succeeded takes none, and
        # the cursor never passes a new file this tick did not request.
        failing = failed_versions(context.instance, name, objects)
        retried = plan_launches(domain, failing, context.instance)
        retries = retried.runs[:max_runs]
        chosen, after = plan_tick(objects, cursor, max_runs - len(retries), full_listing_at=now if full else None)
        known = {o.run_key for o in failing}
        fresh = plan_launches(domain, [o for o in chosen if o.run_key not in known], context.instance, batch=True)
        plan = LaunchPlan(domain, (*retries, *fresh.runs), (*retried.gave_up, *fresh.gave_up), fresh.batches)
        gave_up = "".join(f"; {g}" for g in plan.gave_up)
        if not plan.runs and not plan.batches:
            listing = "full listing" if full else f"listing after {cursor.high_key}"
            skip = f"no new objects among {len(objects)} ({listing}){gave_up}"
            return dg.SensorResult(skip_reason=skip, cursor=after.dump())
        return dg.SensorResult(
            run_requests=[
                *(run.run_request(job.name) for run in plan.runs),
                *(batch.run_request(batch_job.name) for batch in plan.batches),
            ],
            dynamic_partitions_requests=[plan.add_partitions_request()],
            cursor=after.dump(),
        )

    return _sensor


def recent_failures(instance: dg.DagsterInstance, sensor_name: str) -> list[dg.DagsterRun]:
    """This sensor's latest failed runs, and runs a steward set aside (whoever launched them)."""
    failed = instance.get_runs(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], tags={"dagster/sensor_name": sensor_name}),
        limit=RECENT_FAILURES,
    )
    return [*failed, *set_aside_runs(instance, RECENT_FAILURES)]


def failed_versions(instance: dg.DagsterInstance, sensor_name: str, objects: list) -> list:
    """Listed versions among `recent_failures`: the planner retries or gives them up."""
    keys = {obj.run_key for run in recent_failures(instance, sensor_name) for obj in run_objects(run)}
    return [o for o in objects if o.run_key in keys]


def failed_objects(instance: dg.DagsterInstance, sensor_name: str) -> list[LandedObject]:
    """The object versions of `recent_failures`, from their run tags (event mode lists nothing to match)."""
    found = {}
    for obj in (obj for run in recent_failures(instance, sensor_name) for obj in run_objects(run)):
        found.setdefault(obj.run_key, obj)
    return list(found.values())


def run_objects(run: dg.DagsterRun) -> list[LandedObject]:
    """The object versions a run processed: its one file, or each file of a batch."""
    obj = object_of(run.tags)
    return [obj] if obj is not None else batch_objects(run)
