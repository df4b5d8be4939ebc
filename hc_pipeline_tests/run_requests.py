"""What a landing sensor's run requests ask for, file by file, whether alone or in batch runs."""

from hc_pipeline.stores.landed import LandedObject


def requested_objects(result) -> list[LandedObject]:
    """Every object version a tick requested: a run's one file, or each file of a batch run's config."""
    found = []
    for request in result.run_requests:
        ops = (request.run_config or {}).get("ops", {})
        files = next((op["config"]["files"] for op in ops.values() if "files" in op.get("config", {})), None)
        if files is None:
            tags = request.tags
            found.append(
                LandedObject(tags["hc/object_key"], tags["hc/object_version"], float(tags["hc/last_modified"]), -1)
            )
        else:
            found += [LandedObject(f["key"], f["version"], f["last_modified"], f["size"]) for f in files]
    return found


def requested_versions(result) -> list[str]:
    """`key@version` of every object version a tick requested."""
    return [obj.run_key for obj in requested_objects(result)]
