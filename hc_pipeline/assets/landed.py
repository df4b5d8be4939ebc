"""Which landed object a partition stands for: run tags from the sensor, else the partition's manifest."""

import json

import dagster as dg

from hc_pipeline.planner import KEY_TAG, MODIFIED_TAG, VERSION_TAG
from hc_pipeline.resources.landing import LandedObject
from hc_pipeline.resources.storage import LakeStorage


def landed_object(context: dg.AssetExecutionContext, domain: str, storage: LakeStorage) -> LandedObject:
    """The object behind this run's partition; a re-run from the UI finds it in the manifest."""
    manifest = storage.path("manifests", domain, f"{context.partition_key}.json")
    tags = context.run.tags
    if KEY_TAG in tags:
        obj = LandedObject(tags[KEY_TAG], tags[VERSION_TAG], float(tags[MODIFIED_TAG]), -1)
        if not manifest.exists():
            # One line: Athena's JSON SerDe reads the manifests as the `<domain>_manifests` table.
            record = {"key": obj.key, "version": obj.version, "last_modified": obj.last_modified}
            storage.write_bytes(manifest, json.dumps(record).encode("utf-8"))
        return obj
    if not manifest.exists():
        raise dg.Failure(
            f"partition {context.partition_key}: no landed object is recorded for it; "
            "partitions are added by the landing sensor or `hc-pipeline run`"
        )
    record = json.loads(manifest.read_text())
    return LandedObject(record["key"], record["version"], record["last_modified"], -1)
