"""The storage root and its zones: lake, quarantine and insights, written whole or not at all."""

import json
import shutil
from typing import Any, BinaryIO

import dagster as dg
from pydantic import Field
from upath import UPath

from hc_pipeline.stores.digests import CHUNK_BYTES
from hc_pipeline.stores.environment import fsspec_options
from hc_pipeline.stores.names import bounded_name
from hc_pipeline.stores.whole_writes import written_whole


class LakeStorage(dg.ConfigurableResource):
    """The storage root: a local folder or `s3://bucket/prefix`; zones are folders under it."""

    root: str = Field(description="Local folder or s3://bucket/prefix holding every zone.")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (MinIO, moto).")
    sse: str | None = Field(default=None, description="Server-side encryption for every write, e.g. AES256.")
    region_name: str | None = Field(default=None, description="AWS region of the bucket; default: the standard chain.")

    @property
    def is_s3(self) -> bool:
        return self.root.startswith(("s3://", "s3a://"))

    def storage_options(self) -> dict[str, Any]:
        """fsspec (s3fs) options for the root: endpoint, region and SSE on every write; none locally."""
        return fsspec_options(self.root, self.endpoint_url, self.sse, self.region_name)

    def path(self, *parts: str) -> UPath:
        """A path under the root, e.g. `path("lake", "patients")`."""
        return UPath(self.root, **self.storage_options()).joinpath(*parts)

    def filesystem(self):
        """The fsspec filesystem of the root (s3fs on S3), e.g. for DuckDB's `register_filesystem`."""
        return self.path().fs

    def write_bytes(self, path: UPath, data: bytes) -> UPath:
        """Write so that readers see the old object or the whole new one, never a part (`written_whole`)."""
        with written_whole(path) as sink:
            sink.write(data)
        return path

    def write_stream(self, path: UPath, source: BinaryIO) -> UPath:
        """`write_bytes` of what `source` holds, copied a chunk at a time."""
        with written_whole(path) as sink:
            shutil.copyfileobj(source, sink, CHUNK_BYTES)
        return path

    def write_json(self, path: UPath, payload: dict) -> UPath:
        return self.write_bytes(path, json.dumps(payload, indent=2, default=str).encode("utf-8"))

    def quarantine_file(self, domain: str, partition: str, file_name: str, landed: BinaryIO, reason: dict) -> UPath:
        """Copy an unreadable file whole into quarantine as it is read, with `<file>.reason.json` beside it; long
        names hashed."""
        folder = self.path("quarantine", domain, partition)
        file_name = bounded_name(file_name)
        self.write_json(folder / f"{file_name}.reason.json", reason)
        return self.write_stream(folder / file_name, landed)

    def insight_path(self, domain: str, partition: str) -> UPath:
        return self.path("insights", domain, f"{partition}_insight_report.json")
