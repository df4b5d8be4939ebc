"""Which landed object a partition stands for: run tags from the sensor, else the partition's manifest."""

import json

import dagster as dg

from hc_pipeline.batches import DONE, PENDING, file_tag
from hc_pipeline.planner import IN_FLIGHT, KEY_TAG, VERSION_RUN_KEY_TAG, object_of
from hc_pipeline.resources.landing import LandedObject
from hc_pipeline.resources.storage import LakeStorage


def landed_object(context: dg.AssetExecutionContext, domain: str, storage: LakeStorage) -> LandedObject:
    """The object behind this run's partition; a re-run from the UI finds it in the manifest."""
    manifest = storage.path("manifests", domain, f"{context.partition_key}.json")
    obj = object_of(context.run.tags)
    if obj is not None:
        record_manifest(storage, domain, context.partition_key, obj)
        return obj
    if not manifest.exists():
        raise dg.Failure(
            f"partition {context.partition_key}: no landed object is recorded for it; "
            "partitions are added by the landing sensor or `hc-pipeline run`"
        )
    record = json.loads(manifest.read_text())
    return LandedObject(record["key"], record["version"], record["last_modified"], -1)


def record_manifest(storage: LakeStorage, domain: str, partition_key: str, obj: LandedObject) -> None:
    """Write the partition's manifest (which object version it holds) unless it is there already."""
    manifest = storage.path("manifests", domain, f"{partition_key}.json")
    if not manifest.exists():
        # One line: Athena's JSON SerDe reads the manifests as the `<domain>_manifests` table.
        record = {"key": obj.key, "version": obj.version, "last_modified": obj.last_modified}
        storage.write_bytes(manifest, json.dumps(record).encode("utf-8"))


def stop_if_duplicate(context: dg.AssetExecutionContext) -> None:
    """Fail a launch of a version that an earlier run is processing or has processed.

    `run` and a daemon on one instance plan from the same history, but both may launch the same version in the
    moment between planning and launch; the later-created run stops here, before anything is written.
    """
    version_key = context.run.tags.get(VERSION_RUN_KEY_TAG)
    if not version_key:
        return  # a re-run from the UI or a re-curation: run on purpose
    instance = context.instance
    records = instance.get_run_records(filters=dg.RunsFilter(tags={VERSION_RUN_KEY_TAG: version_key}))
    obj = object_of(context.run.tags)
    batched = instance.get_run_records(filters=dg.RunsFilter(tags={file_tag(obj): [PENDING, DONE]})) if obj else []
    mine = instance.get_run_record_by_id(context.run_id)

    def holds(record) -> bool:
        run = record.dagster_run
        earlier = mine is None or record.create_timestamp < mine.create_timestamp
        if obj is not None and file_tag(obj) in run.tags:  # a batch run: only its state for this file counts
            return run.tags[file_tag(obj)] == DONE or (earlier and run.status in IN_FLIGHT)
        return earlier and (run.status in IN_FLIGHT or run.status == dg.DagsterRunStatus.SUCCESS)

    earlier = [r for r in [*records, *batched] if r.dagster_run.run_id != context.run_id and holds(r)]
    if earlier:
        raise dg.Failure(
            f"{context.run.tags.get(KEY_TAG, version_key)}: this version is already processed by run "
            f"{earlier[0].dagster_run.run_id[:8]}; this duplicate launch stopped before writing anything"
        )
