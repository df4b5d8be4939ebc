"""Where this deployment's stores are, from the HC_* environment variables; none set = the local HC_HOME folder."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hc_pipeline.stores.clean_exit import stop_fsspec_io_at_exit
from hc_pipeline.stores.local_landing import SETTLE_SECONDS

DEFAULT_HOME = ".hc_home"


def hc_home(env: Mapping[str, str] | None = None) -> Path:
    """The local root of the embedded default (`HC_HOME`, default `./.hc_home`), made absolute."""
    env = os.environ if env is None else env
    return Path(env.get("HC_HOME") or DEFAULT_HOME).expanduser().resolve()


@dataclass(frozen=True)
class S3Settings:
    """The bucket holding every zone, from `HC_S3_*` and the AWS region variables."""

    bucket: str
    prefix: str
    endpoint_url: str | None
    sse: str | None
    region_name: str | None

    @property
    def root(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def s3_settings(env: Mapping[str, str] | None = None) -> S3Settings | None:
    """The S3 settings when `HC_S3_BUCKET` is set, else None (the local folder)."""
    env = os.environ if env is None else env
    bucket = (env.get("HC_S3_BUCKET") or "").strip()
    if not bucket:
        return None
    return S3Settings(
        bucket=bucket,
        prefix=(env.get("HC_S3_PREFIX") or "").strip("/"),
        endpoint_url=env.get("HC_S3_ENDPOINT_URL") or None,
        sse=env.get("HC_S3_SSE") or None,
        # botocore reads only AWS_DEFAULT_REGION; Lambda, ECS and many shells set AWS_REGION.
        region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,  # as resources.aws.region_from
    )


def store_label(env: Mapping[str, str] | None = None) -> str:
    """Where every zone is, for people: the bucket root and its endpoint, or the HC_HOME folder."""
    settings = s3_settings(env)
    if settings is None:
        return str(hc_home(env))
    return f"{settings.root} at {settings.endpoint_url}" if settings.endpoint_url else settings.root


def fsspec_options(root: str, endpoint_url: str | None, sse: str | None, region_name: str | None) -> dict[str, Any]:
    """fsspec (s3fs) options for the storage root: endpoint, region and SSE on every write; none locally."""
    if not root.startswith(("s3://", "s3a://")):
        return {}
    from hc_pipeline.resources.aws import s3fs_client_kwargs, s3fs_config_kwargs  # Dagster-free; boto3 for S3 only

    stop_fsspec_io_at_exit()
    client = s3fs_client_kwargs(region_name, endpoint_url)
    # No listing cache: sensors, runs and `hc-pipeline query` each need the bucket as it is now.
    options: dict[str, Any] = {"use_listings_cache": False, "config_kwargs": s3fs_config_kwargs()}
    if client:
        options["client_kwargs"] = client
    if sse:
        # s3fs adds these to PutObject, CreateMultipartUpload and CopyObject only.
        options["s3_additional_kwargs"] = {"ServerSideEncryption": sse}
    return options


def s3_client(settings: S3Settings):
    """A boto3 S3 client for the settings, built as every AWS client of the project is."""
    from hc_pipeline.resources import aws

    return aws.client("s3", settings.region_name, settings.endpoint_url)


def settle_seconds(env: Mapping[str, str] | None = None) -> float:
    """`HC_LANDING_SETTLE_SECONDS` (2): how long a file copied into the local landing folder must stay unchanged."""
    env = os.environ if env is None else env
    text = (env.get("HC_LANDING_SETTLE_SECONDS") or "").strip()
    try:
        seconds = float(text) if text else SETTLE_SECONDS
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ValueError(f"HC_LANDING_SETTLE_SECONDS={text!r}: expected a number of seconds, 0 or more")
    return seconds


def landing_from_env(env: Mapping[str, str] | None = None):
    """The landing zone's Dagster-free core: the local folder or the bucket."""
    settings = s3_settings(env)
    if settings is None:
        from hc_pipeline.stores.local_landing import LocalLanding

        return LocalLanding(hc_home(env), settle_seconds(env))
    from hc_pipeline.stores.s3_landing import S3Landing

    return S3Landing(s3_client(settings), settings.bucket, settings.prefix, settings.sse)


def lake_from_env(env: Mapping[str, str] | None = None, threads: int = 2):
    """DuckDB over the lake zone, local or in the bucket (read through s3fs)."""
    from hc_pipeline.stores.duckdb_lake import DuckDBLake

    settings = s3_settings(env)
    if settings is None:
        return DuckDBLake(str(hc_home(env) / "lake"), threads=threads)
    import fsspec

    options = fsspec_options(settings.root, settings.endpoint_url, settings.sse, settings.region_name)
    return DuckDBLake(f"{settings.root}/lake", fsspec.filesystem("s3", **options), threads=threads)


def athena_settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Athena client's settings from `HC_ATHENA_*` (Athena reads the lake in the bucket of `HC_S3_BUCKET`)."""
    env = os.environ if env is None else env
    settings = s3_settings(env)
    if settings is None:
        raise ValueError("HC_QUERY_ENGINE=athena needs HC_S3_BUCKET: Athena reads the lake from S3")
    return {
        "region_name": settings.region_name,
        "endpoint_url": env.get("HC_ATHENA_ENDPOINT_URL") or None,
        "database": env.get("HC_ATHENA_DATABASE") or "hc_pipeline",
        "workgroup": env.get("HC_ATHENA_WORKGROUP") or "primary",
        "output_location": env.get("HC_ATHENA_OUTPUT") or None,
    }
