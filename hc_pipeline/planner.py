"""What to launch for landed files: partition keys, partitions to add, run tags, minus versions already done.

The landing sensors and `hc-pipeline run` both plan here, so a version run by one is never run by the other.
A version is done when a run of it succeeded or stopped on a blocking check (bad data, recorded); a version whose
runs failed or died is pending again, up to MAX_ATTEMPTS runs, then given up with the last run's reason (and
that run tagged `hc/outcome=gave_up` for the UI). `hc-pipeline retry` tags the failed runs `hc/set_aside`: they no
longer count, so the version gets MAX_ATTEMPTS fresh attempts; attempt numbers still count every run.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from hc_pipeline.batches import DONE, PENDING, FileBatch, batch_states, group_batches, in_flight_batches
from hc_pipeline.partitions import files_partitions, partition_key_for
from hc_pipeline.resources.landing import LandedObject

RUN_KEY_TAG = "dagster/run_key"
KEY_TAG, VERSION_TAG, MODIFIED_TAG = "hc/object_key", "hc/object_version", "hc/last_modified"
# Every attempt at one object version carries the version's run key here; Dagster's run key gets `#<attempt>`.
VERSION_RUN_KEY_TAG = "hc/version_run_key"
OUTCOME_TAG, REASON_TAG = "hc/outcome", "hc/failure_reason"
# An operator's stop (SIGTERM/SIGINT) is no attempt: only failures and deaths (a kill -9 cannot be told from an OOM
# kill) count toward MAX_ATTEMPTS.
INTERRUPTED = "interrupted (SIGTERM/SIGINT)"
STOPPED_BY_CHECKS, FAILED, GAVE_UP = "stopped_by_checks", "failed", "gave_up"
# Set on failed runs by `hc-pipeline retry` (value: when); such runs no longer count toward MAX_ATTEMPTS.
SET_ASIDE_TAG = "hc/set_aside"
MAX_ATTEMPTS = 3
# Every run `hc-pipeline run` launches in its own process carries this tag: the next `run` fails those a dead one
# left in flight.
BY_RUN = {"hc/launched_by": "hc-pipeline run"}

IN_FLIGHT = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
}


def run_tags(obj: LandedObject) -> dict[str, str]:
    """The tags a run carries so its assets know the object it processes."""
    return {KEY_TAG: obj.key, VERSION_TAG: obj.version, MODIFIED_TAG: repr(obj.last_modified)}


def object_of(tags: dict[str, str]) -> LandedObject | None:
    """The landed object version a run's tags name (`run_tags` read back), or None for a run without them."""
    if KEY_TAG not in tags or VERSION_TAG not in tags:
        return None
    return LandedObject(tags[KEY_TAG], tags[VERSION_TAG], float(tags.get(MODIFIED_TAG, 0.0)), -1)


@dataclass(frozen=True)
class FileRun:
    """One run to launch: the landed object version it processes, that version's partition, and which attempt."""

    obj: LandedObject
    attempt: int = 1

    @property
    def partition_key(self) -> str:
        return partition_key_for(self.obj.key, self.obj.version)

    @property
    def run_key(self) -> str:
        """The version's run key; a retry needs its own, since sensors drop a run key they have seen."""
        return self.obj.run_key if self.attempt == 1 else f"{self.obj.run_key}#{self.attempt}"

    @property
    def tags(self) -> dict[str, str]:
        """The object's tags and the run keys `version_runs` looks for."""
        return {**self.request_tags, RUN_KEY_TAG: self.run_key}

    @property
    def request_tags(self) -> dict[str, str]:
        return {**run_tags(self.obj), VERSION_RUN_KEY_TAG: self.obj.run_key}

    def run_request(self, job_name: str | None = None) -> dg.RunRequest:
        return dg.RunRequest(
            run_key=self.run_key, partition_key=self.partition_key, tags=self.request_tags, job_name=job_name
        )


@dataclass(frozen=True)
class GaveUp:
    """A version whose every automatic attempt failed: shown to the operator, never launched again by itself."""

    obj: LandedObject
    attempts: int
    reason: str

    def __str__(self) -> str:
        return f"{self.obj.key}: gave up after {self.attempts} attempts: {self.reason}"


@dataclass(frozen=True)
class LaunchPlan:
    """The runs to launch for one domain (one per file, and batches of new files), their partitions, and versions
    given up."""

    domain: str
    runs: tuple[FileRun, ...]
    gave_up: tuple[GaveUp, ...] = ()
    batches: tuple[FileBatch, ...] = ()

    @property
    def partition_keys(self) -> list[str]:
        return [run.partition_key for run in self.runs] + [
            key for batch in self.batches for key in batch.partition_keys
        ]

    @property
    def files(self) -> int:
        return len(self.runs) + sum(len(batch) for batch in self.batches)

    def add_partitions_request(self) -> dg.AddDynamicPartitionsRequest:
        return files_partitions[self.domain].build_add_request(self.partition_keys)

    def add_partitions(self, instance: dg.DagsterInstance) -> None:
        """Add the plan's partitions now (for runs launched in this process rather than by a sensor)."""
        known = set(instance.get_dynamic_partitions(files_partitions[self.domain].name))
        new = [key for key in self.partition_keys if key not in known]
        if new:
            instance.add_dynamic_partitions(files_partitions[self.domain].name, new)


def plan_launches(
    domain: str,
    objects: Iterable[LandedObject],
    instance: dg.DagsterInstance,
    max_attempts: int = MAX_ATTEMPTS,
    batch: bool = False,
) -> LaunchPlan:
    """One run per object version (in the order given) not done, not in flight and not given up.

    With `batch`, versions no run has seen yet share batch runs instead (bounded by MAX_BATCH_FILES and
    MAX_BATCH_BYTES); a version a batch failed or left unfinished gets a run of its own.
    """
    objects = list(objects)
    history = version_runs(instance, objects)
    batched = batch_states(instance, objects)
    runs, fresh, gave_up = [], [], []
    for obj in objects:
        past = history.get(obj.run_key, [])
        if any(run.status in IN_FLIGHT or is_done(run, instance) for run in past):
            continue
        states = batched.get(obj.run_key, set())
        if DONE in states or (PENDING in states and in_flight_batches(instance, obj, IN_FLIGHT)):
            continue
        if batch and not past and not states:
            fresh.append(obj)
            continue
        counted = counted_attempts(past)
        if len(counted) >= max_attempts:
            if counted[0].tags.get(OUTCOME_TAG) != GAVE_UP:  # once, so a steward filtering runs in the UI sees it
                instance.add_run_tags(counted[0].run_id, {OUTCOME_TAG: GAVE_UP})
            gave_up.append(GaveUp(obj, len(counted), failure_reason(counted[0])))
        else:
            runs.append(FileRun(obj, attempt=next_attempt(past)))
    batches, alone = group_batches(domain, fresh)
    runs += [FileRun(obj) for obj in alone]
    return LaunchPlan(domain, tuple(runs), tuple(gave_up), tuple(batches))


def counted_attempts(past: list[dg.DagsterRun]) -> list[dg.DagsterRun]:
    """The runs that count toward MAX_ATTEMPTS: neither set aside by a steward nor stopped by an operator."""
    return [run for run in past if SET_ASIDE_TAG not in run.tags and run.tags.get(REASON_TAG) != INTERRUPTED]


def next_attempt(past: list[dg.DagsterRun]) -> int:
    """One more than any attempt so far, set aside or not: a Dagster run key is never used twice."""
    numbers = [int(n) for run in past if (n := run.tags.get(RUN_KEY_TAG, "").rpartition("#")[2]).isdigit()]
    return max([len(past), *numbers]) + 1


def set_aside_runs(instance: dg.DagsterInstance, limit: int, stamps: int = 100) -> list[dg.DagsterRun]:
    """Runs a steward set aside in the last `stamps` `hc-pipeline retry` calls, newest first, whoever launched them."""
    values = sorted({v for _key, found in instance.get_run_tags(tag_keys=[SET_ASIDE_TAG]) for v in found})
    if not values:
        return []
    return list(instance.get_runs(filters=dg.RunsFilter(tags={SET_ASIDE_TAG: values[-stamps:]}), limit=limit))


def already_run(instance: dg.DagsterInstance, objects: list[LandedObject]) -> set[str]:
    """Run keys among `objects` that a run (or a batch run) already carries, so a reset cursor never runs an ETag
    twice."""
    done: set[str] = set()
    keys = sorted({o.run_key for o in objects})
    for start in range(0, len(keys), 500):  # bounded IN lists, whatever the storage
        runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: keys[start : start + 500]}))
        done |= {run.tags[RUN_KEY_TAG] for run in runs}
    return done | set(batch_states(instance, objects))


def is_done(run: dg.DagsterRun, instance: dg.DagsterInstance) -> bool:
    """A run that settled its version: succeeded, or stopped by a blocking check (file quarantined, rules broken)."""
    if run.status == dg.DagsterRunStatus.SUCCESS:
        return True
    if run.status != dg.DagsterRunStatus.FAILURE:
        return False
    if OUTCOME_TAG not in run.tags:  # a run launched by a sensor: classify it once from its events
        outcome = STOPPED_BY_CHECKS if failed_on_checks_only(instance, run.run_id) else FAILED
        instance.add_run_tags(run.run_id, {OUTCOME_TAG: outcome})
        return outcome == STOPPED_BY_CHECKS
    return run.tags[OUTCOME_TAG] == STOPPED_BY_CHECKS


def failed_on_checks_only(instance: dg.DagsterInstance, run_id: str) -> bool:
    """True when every failed step of the run reported a failing blocking check: bad data, no crash."""
    events = [
        entry.dagster_event
        for entry in instance.all_logs(
            run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
        )
        if entry.dagster_event
    ]
    failed = {e.step_key for e in events if e.event_type == dg.DagsterEventType.STEP_FAILURE}
    blocked = {
        e.step_key
        for e in events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and not e.asset_check_evaluation_data.passed
        and e.asset_check_evaluation_data.blocking
    }
    return bool(failed) and failed <= blocked


def failure_reason(run: dg.DagsterRun) -> str:
    return run.tags.get(REASON_TAG) or f"run {run.run_id[:8]} ended {run.status.value}"


def version_runs(instance: dg.DagsterInstance, objects: list[LandedObject]) -> dict[str, list[dg.DagsterRun]]:
    """Every run of each version among `objects` (by run key or version tag), newest first."""
    if not objects:
        return {}
    keys = sorted({o.run_key for o in objects})
    found = {}
    for tag in (VERSION_RUN_KEY_TAG, RUN_KEY_TAG):
        for start in range(0, len(keys), 500):  # bounded IN lists, whatever the storage
            filters = dg.RunsFilter(tags={tag: keys[start : start + 500]})
            for record in instance.get_run_records(filters=filters):
                found[record.dagster_run.run_id] = record
    history: dict[str, list[dg.DagsterRun]] = {}
    for record in sorted(found.values(), key=lambda r: r.create_timestamp, reverse=True):
        run = record.dagster_run
        history.setdefault(run.tags.get(VERSION_RUN_KEY_TAG) or run.tags[RUN_KEY_TAG], []).append(run)
    return history
