"""`hc-pipeline retry`: a steward gives a gave-up object version fresh attempts by setting its failed runs aside."""

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from hc_pipeline.batches import DONE, batch_states, in_flight_batches
from hc_pipeline.planner import (
    FAILED,
    GAVE_UP,
    IN_FLIGHT,
    MAX_ATTEMPTS,
    OUTCOME_TAG,
    SET_ASIDE_TAG,
    counted_attempts,
    failure_reason,
    is_done,
    version_runs,
)
from hc_pipeline.resources.landing import LandedObject
from hc_pipeline.stores.landed import DOMAINS


class NotGivenUp(Exception):
    """The key is not in the gave-up state: not landed, running, done or still pending; nothing was changed."""


@dataclass(frozen=True)
class SetAside:
    """What `retry` did: the version, how many failed runs it set aside, and the last one's reason."""

    obj: LandedObject
    runs: int
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.obj.key}: set aside {self.runs} failed attempt(s) (last: {self.reason}); the next "
            f"`hc-pipeline run` or landing sensor tick takes it again, with {MAX_ATTEMPTS} fresh attempts"
        )


def object_key(key: str, domain: str | None) -> tuple[str, str]:
    """(domain, key below the landing zone) for `patients/a.csv`, or for `a.csv` with `--domain patients`."""
    key = key.strip().lstrip("/")
    if domain and not key.startswith(f"{domain}/"):
        key = f"{domain}/{key}"
    return key.split("/", 1)[0], key


def retry(instance: dg.DagsterInstance, landing, key: str, domain: str | None = None) -> SetAside:
    """Set aside the failed runs of `key`'s landed version if it gave up; else raise NotGivenUp saying its state."""
    domain, key = object_key(key, domain)
    if domain not in DOMAINS or "/" not in key:
        raise NotGivenUp(f"{key}: not landed (keys look like <domain>/<file>, domains: {', '.join(DOMAINS)})")
    landed = [o for o in landing.list_objects(domain) if o.key == key]
    if not landed:
        raise NotGivenUp(f"{key}: not landed (no object at that key in landing/{domain}/)")
    obj = landed[0]
    past = version_runs(instance, [obj]).get(obj.run_key, [])
    counted = counted_attempts(past)
    running = [run for run in past if run.status in IN_FLIGHT] + in_flight_batches(instance, obj, IN_FLIGHT)
    if running:
        raise NotGivenUp(f"{key}: running (run {running[0].run_id[:8]}), not given up; nothing to retry")
    if any(is_done(run, instance) for run in past) or DONE in batch_states(instance, [obj]).get(obj.run_key, ()):
        raise NotGivenUp(f"{key}: done (a run succeeded or a blocking check stopped it), not given up")
    if len(counted) < MAX_ATTEMPTS:
        raise NotGivenUp(
            f"{key}: pending ({len(counted)} of {MAX_ATTEMPTS} attempts failed), not given up; "
            "the next `hc-pipeline run` or landing sensor tick takes it"
        )
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for run in counted:
        # The UI's `hc/outcome=gave_up` filter then lists only versions still given up.
        outcome = {OUTCOME_TAG: FAILED} if run.tags.get(OUTCOME_TAG) == GAVE_UP else {}
        instance.add_run_tags(run.run_id, {SET_ASIDE_TAG: stamp, **outcome})
    return SetAside(obj, len(counted), failure_reason(counted[0]))
