"""Which resources this deployment uses, from the HC_* environment variables; none set = embedded default."""

import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from hc_pipeline.io_managers.athena_tables import LakeAthenaIOManager
from hc_pipeline.io_managers.parquet import LakeParquetIOManager
from hc_pipeline.resources.athena import AthenaQueryEngine
from hc_pipeline.resources.aws import region_from
from hc_pipeline.resources.landing import LandingZone, LocalLandingZone
from hc_pipeline.resources.notifier import LogNotifier, Notifier, SlackWebhookNotifier, SnsNotifier, topic_region
from hc_pipeline.resources.query_engine import DuckDBQueryEngine, QueryEngine
from hc_pipeline.resources.s3_events import S3EventQueue
from hc_pipeline.resources.s3_landing import S3LandingZone
from hc_pipeline.resources.storage import LakeStorage

DEFAULT_HOME = ".hc_home"


def hc_home(env: Mapping[str, str] | None = None) -> Path:
    """The local root of the embedded default (`HC_HOME`, default `./.hc_home`), made absolute."""
    env = os.environ if env is None else env
    return Path(env.get("HC_HOME") or DEFAULT_HOME).expanduser().resolve()


def build_resources(env: Mapping[str, str] | None = None) -> dict:
    """The resources for the environment: a local folder and DuckDB unless S3/Athena are configured."""
    env = os.environ if env is None else env
    storage, landing = storage_and_landing(env)
    engine = query_engine(env, storage)
    athena = isinstance(engine, AthenaQueryEngine)
    events = event_queue(env, landing)
    return {
        **({"landing_events": events} if events else {}),
        "storage": storage,
        "landing": landing,
        "io_manager": LakeAthenaIOManager(storage=storage, engine=engine)
        if athena
        else LakeParquetIOManager(storage=storage),
        "query_engine": engine,
        "notifier": notifier(env),
    }


def storage_and_landing(env: Mapping[str, str]) -> tuple[LakeStorage, LandingZone]:
    """`HC_S3_BUCKET` set: every zone in `s3://bucket/prefix`; otherwise the local folder `HC_HOME`."""
    bucket = (env.get("HC_S3_BUCKET") or "").strip()
    if not bucket:
        storage = LakeStorage(root=str(hc_home(env)))
        return storage, LocalLandingZone(root=storage.root, **_listing(env))
    prefix = (env.get("HC_S3_PREFIX") or "").strip("/")
    endpoint = env.get("HC_S3_ENDPOINT_URL") or None
    sse = env.get("HC_S3_SSE") or None
    region = region_from(env)
    storage = LakeStorage(
        root=f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}",
        endpoint_url=endpoint,
        sse=sse,
        region_name=region,
    )
    landing = S3LandingZone(
        bucket=bucket, prefix=prefix, sse=sse, region_name=region, endpoint_url=endpoint, **_listing(env)
    )
    return storage, landing


def _listing(env: Mapping[str, str]) -> dict:
    """Listing mode: `HC_FULL_LISTING_SECONDS` between full listings (300) once `HC_FULL_LISTING_BELOW` (5000) objects."""
    seconds, below = env.get("HC_FULL_LISTING_SECONDS"), env.get("HC_FULL_LISTING_BELOW")
    return {
        **({"full_listing_seconds": float(seconds)} if seconds else {}),
        **({"full_listing_below": int(below)} if below else {}),
    }


def event_queue(env: Mapping[str, str], landing: LandingZone) -> S3EventQueue | None:
    """`HC_S3_EVENT_QUEUE_URL` set: the landing sensor drains that SQS queue (`HC_RECONCILE_SECONDS`, 3600)."""
    url = (env.get("HC_S3_EVENT_QUEUE_URL") or "").strip()
    if not url:
        return None
    if not isinstance(landing, S3LandingZone):
        raise ValueError("HC_S3_EVENT_QUEUE_URL needs HC_S3_BUCKET: the queue carries that bucket's notifications")
    return S3EventQueue(queue_url=url, landing=landing, reconcile_seconds=int(env.get("HC_RECONCILE_SECONDS") or 3600))


def query_engine(env: Mapping[str, str], storage: LakeStorage) -> QueryEngine:
    """`HC_QUERY_ENGINE`: `duckdb` (default; reads the lake locally or on S3) or `athena`."""
    name = (env.get("HC_QUERY_ENGINE") or "duckdb").strip().lower()
    if name == "duckdb":
        return DuckDBQueryEngine(storage=storage)
    if name == "athena":
        if not storage.root.startswith("s3://"):
            raise ValueError("HC_QUERY_ENGINE=athena needs HC_S3_BUCKET: Athena reads the lake from S3")
        return AthenaQueryEngine(
            region_name=storage.region_name,
            endpoint_url=env.get("HC_ATHENA_ENDPOINT_URL") or None,
            database=env.get("HC_ATHENA_DATABASE") or "hc_pipeline",
            workgroup=env.get("HC_ATHENA_WORKGROUP") or "primary",
            output_location=env.get("HC_ATHENA_OUTPUT") or None,
        )
    raise ValueError(f"HC_QUERY_ENGINE={name!r}: expected 'duckdb' or 'athena'")


def notifier(env: Mapping[str, str]) -> Notifier:
    """`HC_SLACK_WEBHOOK_URL` (wins), else `HC_SNS_TOPIC_ARN`, else the log."""
    if env.get("HC_SLACK_WEBHOOK_URL"):
        # EnvVar keeps the webhook secret out of the resource config the UI shows.
        return SlackWebhookNotifier(webhook_url=dg.EnvVar("HC_SLACK_WEBHOOK_URL"), timeout_seconds=10.0)
    if env.get("HC_SNS_TOPIC_ARN"):
        arn = env["HC_SNS_TOPIC_ARN"]
        # No endpoint here: boto3 honours AWS_ENDPOINT_URL_SNS (moto, VPC endpoints) by itself.
        return SnsNotifier(topic_arn=arn, region_name=topic_region(arn))
    return LogNotifier()


def sensor_interval(env: Mapping[str, str] | None = None) -> int:
    """Seconds between landing-sensor ticks (`HC_SENSOR_INTERVAL_SECONDS`, default 15)."""
    env = os.environ if env is None else env
    return int(env.get("HC_SENSOR_INTERVAL_SECONDS") or 15)
