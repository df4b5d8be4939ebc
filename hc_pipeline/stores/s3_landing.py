"""The landing zone in a bucket, `s3://<bucket>/<prefix>/landing/<domain>/...`; a file's version is its ETag."""

import os
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from hc_pipeline.stores.landed import LandedObject, VersionChanged

_PRECONDITION_FAILED = {"PreconditionFailed", "412"}
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_PART_BYTES = 16 * 1024 * 1024


class S3Landing:
    """Landed files in S3 (or MinIO, moto), listed page by page and read only at the version that landed."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        sse: str | None = None,
        page_size: int = 1000,
        part_bytes: int = _PART_BYTES,
    ):
        self.client, self.bucket, self.sse, self.page_size, self.part_bytes = client, bucket, sse, page_size, part_bytes
        self.landing_prefix = "/".join(part for part in (prefix.strip("/"), "landing") if part) + "/"

    def object_key(self, key: str) -> str:
        return self.landing_prefix + key

    def list_objects(self, domain: str, start_after: str | None = None) -> list[LandedObject]:
        """Every object under `<domain>/` (dot-files included; folder markers are not files), or only the keys
        after `start_after` (a key relative to the landing zone)."""
        base = self.landing_prefix
        after = {"StartAfter": base + start_after} if start_after else {}
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{base}{domain}/", PaginationConfig={"PageSize": self.page_size}, **after
        )
        found = []
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(base) :]
                if key.endswith("/"):
                    continue
                found.append(
                    LandedObject(
                        key=key,
                        version=item["ETag"].strip('"'),
                        last_modified=item["LastModified"].timestamp(),
                        size=item["Size"],
                    )
                )
        return found

    def read_bytes(self, key: str, version: str | None = None) -> bytes:
        """The object's bytes; with `version` (an ETag) the read is conditional, so a replaced object raises."""
        return self.open(key, version).read()

    def open(self, key: str, version: str | None = None) -> BinaryIO:
        """The object as a stream; with `version` (an ETag) the read is conditional, so a replaced object raises."""
        condition = {"IfMatch": f'"{version}"'} if version else {}
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key), **condition)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _PRECONDITION_FAILED:
                raise VersionChanged(
                    f"{self.uri(key)}: the object changed after version {version} landed; "
                    "the new version is its own partition"
                ) from None
            if code in _NOT_FOUND:
                raise FileNotFoundError(f"{self.uri(key)}: no such object (deleted after it landed?)") from None
            raise
        return response["Body"]

    def _extra(self) -> dict[str, str]:
        return {"ServerSideEncryption": self.sse} if self.sse else {}

    def put(self, key: str, data: bytes) -> LandedObject:
        """Upload with one PutObject (S3 shows an object only once it is complete), then describe it."""
        self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data, **self._extra())
        return self._describe(key)

    def put_file(self, key: str, source: str | os.PathLike) -> LandedObject:
        """Stream the file at `source` up (multipart above `part_bytes`, invisible until complete), then describe it."""
        with open(source, "rb") as handle:
            return self.put_stream(key, handle)

    def put_stream(self, key: str, reader: BinaryIO) -> LandedObject:
        from boto3.s3.transfer import TransferConfig  # only uploads need s3transfer

        # Memory stays near max_concurrency parts, whatever the file's size.
        config = TransferConfig(
            multipart_threshold=self.part_bytes, multipart_chunksize=self.part_bytes, max_concurrency=4
        )
        self.client.upload_fileobj(
            reader, self.bucket, self.object_key(key), ExtraArgs=self._extra() or None, Config=config
        )
        return self._describe(key)

    def _describe(self, key: str) -> LandedObject:
        """The object as a listing would show it: the ETag S3 gave it is its version."""
        head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        return LandedObject(
            key=key,
            version=head["ETag"].strip('"'),
            last_modified=head["LastModified"].timestamp(),
            size=head["ContentLength"],
        )

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"
