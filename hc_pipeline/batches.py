"""Many new files in one run: the batch a run processes, and each file's state in it, kept in the run's tags.

A batch run carries one tag per file, `hc/file.<sha1 of key@version>`, whose value moves from `pending` to `done`
(processed, or stopped by a blocking check), `failed`, or `skipped` (another run had it). A file whose batch failed it, or died before it, is
planned again as a run of its own, where attempts count as for any file; so one bad file never holds back the rest,
and a file that kills its process is found alone.
"""

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from hc_pipeline.partitions import partition_key_for
from hc_pipeline.stores.landed import LandedObject

FILE_TAG_PREFIX = "hc/file."
BATCH_TAG = "hc/batch_files"
PENDING, DONE, FAILED = "pending", "done", "failed"
SKIPPED = "skipped"  # another run held or processed the version when the batch began
# A batch is read file by file, so its memory is its largest file's; the bounds keep one run's duration in reason.
# HC_BATCH_FILES and HC_BATCH_MB override them (1 file: every file in a run of its own, as before batches).
MAX_BATCH_FILES = 50
MAX_BATCH_BYTES = 256 * 1024 * 1024


def batch_op_name(domain: str) -> str:
    return f"{domain}_batch_files"


def file_tag(obj: LandedObject) -> str:
    """The batch-run tag that holds one object version's state."""
    return FILE_TAG_PREFIX + hashlib.sha1(obj.run_key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class FileBatch:
    """New object versions of one domain processed in one run, in landing order."""

    domain: str
    objects: tuple[LandedObject, ...]

    @property
    def partition_keys(self) -> list[str]:
        return [partition_key_for(o.key, o.version) for o in self.objects]

    @property
    def run_key(self) -> str:
        digest = hashlib.sha1("\n".join(o.run_key for o in self.objects).encode("utf-8")).hexdigest()
        return f"batch:{self.domain}:{digest[:20]}"

    @property
    def tags(self) -> dict[str, str]:
        return {BATCH_TAG: str(len(self.objects)), **{file_tag(o): PENDING for o in self.objects}}

    def run_config(self, dates: dict | None = None) -> dict:
        files = [{"key": o.key, "version": o.version, "last_modified": o.last_modified, "size": o.size} for o in self]
        return {
            "ops": {batch_op_name(self.domain): {"config": {"files": files, **({"dates": dates} if dates else {})}}}
        }

    def run_request(self, job_name: str) -> dg.RunRequest:
        return dg.RunRequest(run_key=self.run_key, job_name=job_name, tags=self.tags, run_config=self.run_config())

    def __iter__(self):
        return iter(self.objects)

    def __len__(self) -> int:
        return len(self.objects)


def group_batches(
    domain: str, objects: Iterable[LandedObject], max_files: int | None = None, max_bytes: int | None = None
) -> tuple[list[FileBatch], list[LandedObject]]:
    """New versions in landing order cut into batches; a file alone in its batch, or too large, runs by itself."""
    max_files = int(os.environ.get("HC_BATCH_FILES", MAX_BATCH_FILES)) if max_files is None else max_files
    max_bytes = int(os.environ.get("HC_BATCH_MB", MAX_BATCH_BYTES >> 20)) << 20 if max_bytes is None else max_bytes
    batches, alone, current, size = [], [], [], 0
    for obj in objects:
        if obj.size > max_bytes:
            alone.append(obj)
            continue
        if current and (len(current) >= max_files or size + max(obj.size, 0) > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(obj)
        size += max(obj.size, 0)
    if current:
        batches.append(current)
    alone += [group[0] for group in batches if len(group) == 1]
    return [FileBatch(domain, tuple(g)) for g in batches if len(g) > 1], alone


def batch_states(instance: dg.DagsterInstance, objects: Iterable[LandedObject]) -> dict[str, set[str]]:
    """The states batch runs hold for each of `objects` (by run key); a version never batched is absent."""
    by_tag = {file_tag(o): o.run_key for o in objects}
    tags = sorted(by_tag)
    states: dict[str, set[str]] = {}
    for start in range(0, len(tags), 500):  # bounded IN lists, whatever the storage
        for key, values in instance.get_run_tags(tag_keys=tags[start : start + 500]):
            states.setdefault(by_tag[key], set()).update(values)
    return states


def in_flight_batches(instance: dg.DagsterInstance, obj: LandedObject, statuses) -> list[dg.DagsterRun]:
    """Batch runs in one of `statuses` that hold `obj` pending."""
    return list(instance.get_runs(filters=dg.RunsFilter(tags={file_tag(obj): PENDING}, statuses=list(statuses))))


def batch_objects(run: dg.DagsterRun) -> list[LandedObject]:
    """The object versions a batch run was given (none for any other run)."""
    if BATCH_TAG not in run.tags:
        return []
    ops = (run.run_config or {}).get("ops", {})
    files = next((op["config"]["files"] for op in ops.values() if "files" in op.get("config", {})), [])
    return [LandedObject(f["key"], f["version"], float(f["last_modified"]), int(f.get("size", -1))) for f in files]


def request_objects(request: dg.RunRequest) -> list[LandedObject]:
    """The object versions a landing run request asks for: its one file, or each file of its batch."""
    ops = (request.run_config or {}).get("ops", {})
    files = next((op["config"]["files"] for op in ops.values() if "files" in op.get("config", {})), None)
    if files is None:
        tags = request.tags
        return [LandedObject(tags["hc/object_key"], tags["hc/object_version"], float(tags["hc/last_modified"]), -1)]
    return [LandedObject(f["key"], f["version"], float(f["last_modified"]), int(f.get("size", -1))) for f in files]
