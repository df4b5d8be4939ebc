"""The landing zone in a bucket: `s3://<bucket>/<prefix>/landing/<domain>/...`; the version is the ETag."""

from pydantic import Field, PrivateAttr

from hc_pipeline.resources import aws
from hc_pipeline.resources.landing import LandingZone
from hc_pipeline.stores.s3_landing import S3Landing


class S3LandingZone(LandingZone):
    """Landed files in S3 (or MinIO, moto), listed page by page and read only at the version that landed."""

    bucket: str = Field(description="The bucket holding every zone.")
    prefix: str = Field(default="", description="Key prefix of the storage root; landing/ is under it.")
    sse: str | None = Field(default=None, description="Server-side encryption for uploads, e.g. AES256 or aws:kms.")
    page_size: int = Field(default=1000, description="Keys per ListObjectsV2 page (S3's ceiling is 1,000).")
    region_name: str | None = Field(default=None, description="AWS region of the bucket; None = the standard chain.")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (MinIO, moto); None = AWS.")
    max_attempts: int = Field(default=aws.MAX_ATTEMPTS, description="botocore retries of one S3 request.")

    _store: S3Landing | None = PrivateAttr(default=None)

    @property
    def store(self) -> S3Landing:
        """The Dagster-free implementation, shared with `hc-pipeline ingest`; one boto3 client per instance."""
        if self._store is None:
            client = aws.client("s3", self.region_name, self.endpoint_url, self.max_attempts)
            self._store = S3Landing(client, self.bucket, self.prefix, self.sse, self.page_size)
        return self._store

    @property
    def client(self):
        """The boto3 client (thread-safe; sessions are not)."""
        return self.store.client

    @property
    def landing_prefix(self) -> str:
        """`<prefix>/landing/`: the key prefix every landed object has."""
        return self.store.landing_prefix
