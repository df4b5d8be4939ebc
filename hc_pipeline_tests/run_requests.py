"""What a landing sensor's tick asks for, file by file, whether alone or in batch runs."""

from hc_pipeline.batches import request_objects
from hc_pipeline.stores.landed import LandedObject


def requested_objects(result) -> list[LandedObject]:
    """Every object version a tick requested."""
    return [obj for request in result.run_requests for obj in request_objects(request)]


def requested_versions(result) -> list[str]:
    """`key@version` of every object version a tick requested."""
    return [obj.run_key for obj in requested_objects(result)]
