"""What to launch for landed files: partition keys, partitions to add, run tags, minus versions already run.

The landing sensors and `hc-pipeline run` both plan here, so a version run by one is never run by the other.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from hc_pipeline.partitions import files_partitions, partition_key_for
from hc_pipeline.resources.landing import LandedObject

RUN_KEY_TAG = "dagster/run_key"
KEY_TAG, VERSION_TAG, MODIFIED_TAG = "hc/object_key", "hc/object_version", "hc/last_modified"


def run_tags(obj: LandedObject) -> dict[str, str]:
    """The tags a run carries so its assets know the object it processes."""
    return {KEY_TAG: obj.key, VERSION_TAG: obj.version, MODIFIED_TAG: repr(obj.last_modified)}


@dataclass(frozen=True)
class FileRun:
    """One run to launch: the landed object version it processes and that version's partition."""

    obj: LandedObject

    @property
    def partition_key(self) -> str:
        return partition_key_for(self.obj.key, self.obj.version)

    @property
    def run_key(self) -> str:
        return self.obj.run_key

    @property
    def tags(self) -> dict[str, str]:
        """The object's tags and the run key, the tag `already_run` looks for."""
        return {**run_tags(self.obj), RUN_KEY_TAG: self.run_key}

    def run_request(self) -> dg.RunRequest:
        return dg.RunRequest(run_key=self.run_key, partition_key=self.partition_key, tags=run_tags(self.obj))


@dataclass(frozen=True)
class LaunchPlan:
    """The runs to launch for one domain, in landing order, and the partitions they need."""

    domain: str
    runs: tuple[FileRun, ...]

    @property
    def partition_keys(self) -> list[str]:
        return [run.partition_key for run in self.runs]

    def add_partitions_request(self) -> dg.AddDynamicPartitionsRequest:
        return files_partitions[self.domain].build_add_request(self.partition_keys)

    def add_partitions(self, instance: dg.DagsterInstance) -> None:
        """Add the plan's partitions now (for runs launched in this process rather than by a sensor)."""
        known = set(instance.get_dynamic_partitions(files_partitions[self.domain].name))
        new = [key for key in self.partition_keys if key not in known]
        if new:
            instance.add_dynamic_partitions(files_partitions[self.domain].name, new)


def plan_launches(domain: str, objects: Iterable[LandedObject], instance: dg.DagsterInstance) -> LaunchPlan:
    """One run per object version (in the order given) that no run on the instance carries yet."""
    objects = list(objects)
    done = already_run(instance, objects)
    return LaunchPlan(domain, tuple(FileRun(o) for o in objects if o.run_key not in done))


def already_run(instance: dg.DagsterInstance, objects: list[LandedObject]) -> set[str]:
    """Run keys among `objects` that a run already carries, so a reset cursor never runs an ETag twice."""
    done: set[str] = set()
    keys = sorted({o.run_key for o in objects})
    for start in range(0, len(keys), 500):  # bounded IN lists, whatever the storage
        runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: keys[start : start + 500]}))
        done |= {run.tags[RUN_KEY_TAG] for run in runs}
    return done
