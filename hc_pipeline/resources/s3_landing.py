"""The landing zone in a bucket: `s3://<bucket>/<prefix>/landing/<domain>/...`; the version is the ETag."""

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field, PrivateAttr

from hc_pipeline.resources import aws
from hc_pipeline.resources.landing import LandedObject, LandingZone, VersionChanged

_PRECONDITION_FAILED = {"PreconditionFailed", "412"}
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}


class S3LandingZone(LandingZone):
    """Landed files in S3 (or MinIO, moto), listed page by page and read only at the version that landed."""

    bucket: str = Field(description="The bucket holding every zone.")
    prefix: str = Field(default="", description="Key prefix of the storage root; landing/ is under it.")
    sse: str | None = Field(default=None, description="Server-side encryption for uploads, e.g. AES256 or aws:kms.")
    page_size: int = Field(default=1000, description="Keys per ListObjectsV2 page (S3's ceiling is 1,000).")
    region_name: str | None = Field(default=None, description="AWS region of the bucket; None = the standard chain.")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (MinIO, moto); None = AWS.")
    max_attempts: int = Field(default=aws.MAX_ATTEMPTS, description="botocore retries of one S3 request.")

    _client: Any = PrivateAttr(default=None)

    @property
    def client(self):
        """One boto3 client per resource instance; boto3 clients are thread-safe, sessions are not."""
        if self._client is None:
            self._client = aws.client("s3", self.region_name, self.endpoint_url, self.max_attempts)
        return self._client

    @property
    def landing_prefix(self) -> str:
        return "/".join(part for part in (self.prefix.strip("/"), "landing") if part) + "/"

    def _object_key(self, key: str) -> str:
        return self.landing_prefix + key

    def list_objects(self, domain: str, start_after: str | None = None) -> Iterator[LandedObject]:
        base = self.landing_prefix
        after = {"StartAfter": base + start_after} if start_after else {}
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{base}{domain}/", PaginationConfig={"PageSize": self.page_size}, **after
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(base) :]
                # Folder markers from consoles, and dot-files, are not landed files (as locally).
                if key.endswith("/") or key.rsplit("/", 1)[-1].startswith("."):
                    continue
                yield LandedObject(
                    key=key,
                    version=item["ETag"].strip('"'),
                    last_modified=item["LastModified"].timestamp(),
                    size=item["Size"],
                )

    def read_bytes(self, key: str, version: str | None = None) -> bytes:
        """The object's bytes; with `version` (an ETag) the read is conditional, so a replaced object raises."""
        condition = {"IfMatch": f'"{version}"'} if version else {}
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key), **condition)
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
        return response["Body"].read()

    def put(self, key: str, data: bytes) -> LandedObject:
        """Upload with one PutObject (S3 shows an object only once it is complete), then describe it."""
        extra = {"ServerSideEncryption": self.sse} if self.sse else {}
        object_key = self._object_key(key)
        self.client.put_object(Bucket=self.bucket, Key=object_key, Body=data, **extra)
        head = self.client.head_object(Bucket=self.bucket, Key=object_key)
        return LandedObject(
            key=key,
            version=head["ETag"].strip('"'),
            last_modified=head["LastModified"].timestamp(),
            size=head["ContentLength"],
        )

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object_key(key)}"
