"""The storage root and its zones: lake, quarantine and insights, written whole or not at all."""

import json
import uuid
from typing import Any

import dagster as dg
from pydantic import Field
from upath import UPath


class LakeStorage(dg.ConfigurableResource):
    """The storage root: a local folder or `s3://bucket/prefix`; zones are folders under it."""

    root: str = Field(description="Local folder or s3://bucket/prefix holding every zone.")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (MinIO, moto).")
    sse: str | None = Field(default=None, description="Server-side encryption for every write, e.g. AES256.")

    def path(self, *parts: str) -> UPath:
        """A path under the root, e.g. `path("lake", "patients")`."""
        options: dict[str, Any] = {}
        if self.root.startswith("s3://"):
            if self.endpoint_url:
                options["client_kwargs"] = {"endpoint_url": self.endpoint_url}
            if self.sse:
                options["s3_additional_kwargs"] = {"ServerSideEncryption": self.sse}
        return UPath(self.root, **options).joinpath(*parts)

    def write_bytes(self, path: UPath, data: bytes) -> UPath:
        """Write so that readers see the old object or the whole new one, never a part."""
        if path.protocol in ("", "file", "local"):
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
            partial.write_bytes(data)
            partial.rename(path)
        else:
            path.write_bytes(data)  # one PUT: S3 objects appear whole
        return path

    def write_json(self, path: UPath, payload: dict) -> UPath:
        return self.write_bytes(path, json.dumps(payload, indent=2, default=str).encode("utf-8"))

    def quarantine_file(self, domain: str, partition: str, file_name: str, data: bytes, reason: dict) -> UPath:
        """Copy an unreadable file whole into quarantine, with `<file>.reason.json` beside it."""
        folder = self.path("quarantine", domain, partition)
        self.write_json(folder / f"{file_name}.reason.json", reason)
        return self.write_bytes(folder / file_name, data)

    def insight_path(self, domain: str, partition: str) -> UPath:
        return self.path("insights", domain, f"{partition}_insight_report.json")
