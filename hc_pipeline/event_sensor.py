"""The landing sensor in event mode: one reader drains the bucket's notifications from SQS for every domain.

One reader, not one per domain: SQS cannot hand a message to the sensor of its domain, so a per-domain reader
would either delete the other domain's records or keep receiving them. Messages are deleted one tick late:
the cursor that lists their receipt handles is committed by Dagster only with the tick's run requests, so a
crash before that leaves them in the queue to be delivered again, and the run keys dedupe them.
"""

import json
import time
from dataclasses import dataclass, field

import dagster as dg

from hc_pipeline.batches import batch_states, group_batches
from hc_pipeline.partitions import DOMAINS, files_partitions
from hc_pipeline.planner import RUN_KEY_TAG, FileRun, GaveUp, already_run, plan_launches
from hc_pipeline.resources.landing import LandedObject, LandingZone
from hc_pipeline.resources.s3_events import QueueMessage, S3EventQueue
from hc_pipeline.sensors import failed_objects

SENSOR_NAME = "landing_events_sensor"

MAX_RECONCILE_RUNS = 500


@dataclass
class EventCursor:
    """Receipt handles whose run requests the last tick emitted, and when the last reconciliation finished."""

    pending: list[str] = field(default_factory=list)
    reconciled_at: float = 0.0

    @classmethod
    def load(cls, text: str | None) -> "EventCursor":
        data = json.loads(text) if text else {}
        return cls(pending=data.get("pending", []), reconciled_at=data.get("reconciled_at", 0.0))

    def dump(self) -> str:
        return json.dumps({"pending": self.pending, "reconciled_at": self.reconciled_at})


def landing_events_sensor(
    jobs: dict[str, dg.JobDefinition], batch_jobs: dict[str, dg.JobDefinition], interval_seconds: int = 15
):
    """Requests runs for the object versions announced on the queue (new ones in batches per domain); reconciles
    with a listing now and then."""

    @dg.sensor(
        name=SENSOR_NAME,
        jobs=[*jobs.values(), *batch_jobs.values()],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Drains the S3 event queue (HC_S3_EVENT_QUEUE_URL): a partition and a run per new object "
        "version under landing/<domain>/; a periodic listing requests any version the queue missed.",
    )
    def _sensor(context: dg.SensorEvaluationContext, landing_events: S3EventQueue, landing: LandingZone):
        cursor = EventCursor.load(context.cursor)
        now = time.time()
        if cursor.pending:
            _delete(context, landing_events, cursor.pending, "recorded last tick")
        try:
            messages = landing_events.receive()
        except Exception as error:  # nothing received, nothing lost: the queue keeps its messages
            reason = f"receiving from the event queue failed: {type(error).__name__}: {error}"
            return dg.SensorResult(skip_reason=reason, cursor=EventCursor([], cursor.reconciled_at).dump())
        chosen, waiting = _from_messages(context, landing_events, messages)
        reconciled_at = cursor.reconciled_at
        if now - cursor.reconciled_at >= landing_events.reconcile_seconds:
            try:
                missed, complete = _reconcile(context, landing, {o.run_key for o in chosen})
            except Exception as error:  # tried again next tick
                context.log.warning(f"reconciliation listing failed: {type(error).__name__}: {error}")
                missed, complete = [], False
            chosen += missed
            reconciled_at = now if complete else reconciled_at
        requested = {o.run_key for o in chosen}
        pending = [m.receipt for m in messages if any(o.run_key in requested for o in m.objects)]
        settled = [m.receipt for m in messages if m.receipt not in pending and m.receipt not in waiting]
        _delete(context, landing_events, settled, "nothing new to request")
        after = EventCursor(pending=pending, reconciled_at=reconciled_at).dump()
        retries, gave_up = _retries(context.instance)
        retrying = {run.obj.run_key for run in retries}
        batches, alone = [], []
        for domain in DOMAINS:
            grouped = group_batches(domain, [o for o in chosen if domain_of(o) == domain and o.run_key not in retrying])
            batches += grouped[0]
            alone += grouped[1]
        runs = [*retries, *(FileRun(o) for o in alone)]
        if not runs and not batches:
            given_up = "".join(f"; {g}" for g in gave_up)
            return dg.SensorResult(skip_reason=f"no new objects in {len(messages)} messages{given_up}", cursor=after)
        return dg.SensorResult(
            run_requests=[
                *(run.run_request(jobs[domain_of(run.obj)].name) for run in runs),
                *(batch.run_request(batch_jobs[batch.domain].name) for batch in batches),
            ],
            dynamic_partitions_requests=[
                files_partitions[domain].build_add_request(keys)
                for domain in DOMAINS
                if (
                    keys := [r.partition_key for r in runs if domain_of(r.obj) == domain]
                    + [k for b in batches if b.domain == domain for k in b.partition_keys]
                )
            ],
            cursor=after,
        )

    return _sensor


def _retries(instance: dg.DagsterInstance) -> tuple[list[FileRun], list[GaveUp]]:
    """Versions whose runs from this sensor failed (or a steward set aside): their next attempt, or given up."""
    failed = failed_objects(instance, SENSOR_NAME)
    retries, gave_up = [], []
    for domain in DOMAINS:
        plan = plan_launches(domain, [o for o in failed if domain_of(o) == domain], instance)
        retries += plan.runs
        gave_up += plan.gave_up
    return retries, gave_up


def domain_of(obj: LandedObject) -> str:
    """The domain folder an object landed in: `patients/a.csv` -> `patients`."""
    return obj.key.split("/", 1)[0]


def _from_messages(
    context: dg.SensorEvaluationContext, queue: S3EventQueue, messages: list[QueueMessage]
) -> tuple[list[LandedObject], set[str]]:
    """New object versions (as a listing describes them) and the receipts to leave for a later delivery."""
    for message in messages:
        if message.problem:
            context.log.warning(
                f"SQS message {message.message_id} is not an S3 notification, deleted: {message.problem}"
            )
    announced = list({o.run_key: o for m in messages for o in m.objects}.values())
    done = already_run(context.instance, announced)
    fresh = [o for o in announced if o.run_key not in done]
    chosen, failed = [], set()
    for announced_obj, described in zip(fresh, queue.describe(fresh)):
        if isinstance(described, Exception):
            failed.add(announced_obj.run_key)
            context.log.warning(f"{announced_obj.key}: HEAD failed, left for redelivery: {described}")
        elif described is None:
            context.log.info(f"{announced_obj.key}@{announced_obj.version}: replaced or deleted since; skipped")
        else:
            chosen.append(described)
    waiting = {m.receipt for m in messages if any(o.run_key in failed for o in m.objects)}
    return chosen, waiting


def _reconcile(
    context: dg.SensorEvaluationContext, landing: LandingZone, requested: set[str]
) -> tuple[list[LandedObject], bool]:
    """Listed versions no run carries (a lost notification), oldest first; and whether none was left over."""
    missed: list[LandedObject] = []
    for domain in DOMAINS:
        listed = list(landing.list_objects(domain))
        ran = run_keys_with_prefix(context.instance, f"{domain}/")
        unran = [o for o in listed if o.run_key not in ran and o.run_key not in requested]
        batched = batch_states(context.instance, unran)
        missed += [o for o in unran if o.run_key not in batched]
    missed.sort(key=lambda o: (o.last_modified, o.key))
    if missed:
        context.log.warning(f"reconciliation: {len(missed)} landed versions had no run (a missed notification?)")
    return missed[:MAX_RECONCILE_RUNS], len(missed) <= MAX_RECONCILE_RUNS


def run_keys_with_prefix(instance: dg.DagsterInstance, prefix: str) -> set[str]:
    """Every run key starting with `prefix` that any run carries, in one query."""
    return {
        value for _key, values in instance.get_run_tags(tag_keys=[RUN_KEY_TAG], value_prefix=prefix) for value in values
    }


def _delete(context: dg.SensorEvaluationContext, queue: S3EventQueue, receipts: list[str], why: str) -> None:
    """Delete messages; a failure only means SQS delivers them again, and their run keys dedupe them."""
    if not receipts:
        return
    try:
        failed = queue.delete(receipts)
    except Exception as error:
        context.log.warning(f"deleting {len(receipts)} messages ({why}) failed, they come back: {error}")
        return
    if failed:
        context.log.warning(f"{len(failed)} of {len(receipts)} messages ({why}) not deleted; they come back")
