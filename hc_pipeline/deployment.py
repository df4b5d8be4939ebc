"""Which resources this deployment uses, from the HC_* environment variables; none set = embedded default."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from hc_pipeline.io_managers.parquet import LakeParquetIOManager
from hc_pipeline.resources.exports import DEFAULT_KEEP, ReportExports
from hc_pipeline.resources.landing import LandingZone, LocalLandingZone
from hc_pipeline.resources.notifier import LogNotifier, Notifier, SlackWebhookNotifier, SnsNotifier, topic_region
from hc_pipeline.resources.query_engine import DuckDBQueryEngine, QueryEngine
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.stores.environment import athena_settings, hc_home, s3_settings, settle_seconds


def build_resources(env: Mapping[str, str] | None = None) -> dict:
    """The resources for the environment: a local folder and DuckDB unless S3/Athena are configured."""
    env = os.environ if env is None else env
    storage, landing = storage_and_landing(env)
    engine = query_engine(env, storage)
    if isinstance(engine, DuckDBQueryEngine):
        io_manager = LakeParquetIOManager(storage=storage)
    else:
        from hc_pipeline.io_managers.athena_tables import LakeAthenaIOManager

        io_manager = LakeAthenaIOManager(storage=storage, engine=engine)
    events = event_queue(env, landing)
    return {
        **({"landing_events": events} if events else {}),
        "storage": storage,
        "landing": landing,
        "io_manager": io_manager,
        "query_engine": engine,
        "notifier": notifier(env),
        "exports": ReportExports(storage=storage, keep=export_keep(env)),
    }


def export_keep(env: Mapping[str, str]) -> int:
    """`HC_EXPORT_KEEP`: timestamped exports kept per report (default 30, at least 1)."""
    text = (env.get("HC_EXPORT_KEEP") or "").strip()
    if not text:
        return DEFAULT_KEEP
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"HC_EXPORT_KEEP={text!r}: expected a whole number of exports to keep, at least 1")
    return int(text)


def storage_and_landing(env: Mapping[str, str]) -> tuple[LakeStorage, LandingZone]:
    """`HC_S3_BUCKET` set: every zone in `s3://bucket/prefix`; otherwise the local folder `HC_HOME`."""
    s3 = s3_settings(env)
    if s3 is None:
        storage = LakeStorage(root=str(hc_home(env)))
        return storage, LocalLandingZone(root=storage.root, settle_seconds=settle_seconds(env), **_listing(env))
    from hc_pipeline.resources.s3_landing import S3LandingZone  # the AWS modules load only for S3 deployments

    storage = LakeStorage(root=s3.root, endpoint_url=s3.endpoint_url, sse=s3.sse, region_name=s3.region_name)
    landing = S3LandingZone(
        bucket=s3.bucket,
        prefix=s3.prefix,
        sse=s3.sse,
        region_name=s3.region_name,
        endpoint_url=s3.endpoint_url,
        **_listing(env),
    )
    return storage, landing


def _listing(env: Mapping[str, str]) -> dict:
    """Listing mode: `HC_FULL_LISTING_SECONDS` between full listings (300) once `HC_FULL_LISTING_BELOW` (5000) objects."""
    seconds, below = env.get("HC_FULL_LISTING_SECONDS"), env.get("HC_FULL_LISTING_BELOW")
    return {
        **({"full_listing_seconds": float(seconds)} if seconds else {}),
        **({"full_listing_below": int(below)} if below else {}),
    }


def event_queue(env: Mapping[str, str], landing: LandingZone):
    """`HC_S3_EVENT_QUEUE_URL` set: the landing sensor drains that SQS queue (`HC_RECONCILE_SECONDS`, 3600)."""
    url = (env.get("HC_S3_EVENT_QUEUE_URL") or "").strip()
    if not url:
        return None
    from hc_pipeline.resources.s3_events import S3EventQueue
    from hc_pipeline.resources.s3_landing import S3LandingZone

    if not isinstance(landing, S3LandingZone):
        raise ValueError("HC_S3_EVENT_QUEUE_URL needs HC_S3_BUCKET: the queue carries that bucket's notifications")
    return S3EventQueue(queue_url=url, landing=landing, reconcile_seconds=int(env.get("HC_RECONCILE_SECONDS") or 3600))


def query_engine(env: Mapping[str, str], storage: LakeStorage) -> QueryEngine:
    """`HC_QUERY_ENGINE`: `duckdb` (default; reads the lake locally or on S3) or `athena`."""
    name = (env.get("HC_QUERY_ENGINE") or "duckdb").strip().lower()
    if name == "duckdb":
        return DuckDBQueryEngine(storage=storage)
    if name == "athena":
        from hc_pipeline.resources.athena import AthenaQueryEngine

        return AthenaQueryEngine(**athena_settings(env))
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


# Seconds between ticks. Dagster's sensor daemon loops every 5 s at the fastest, so a landing sensor at or
# below that ticks on every loop; the event sensor also long-polls SQS within the tick (S3EventQueue.wait_seconds).
EVENT_LANDING_INTERVAL, LISTING_LANDING_INTERVAL, OTHER_INTERVAL = 1, 5, 15


@dataclass(frozen=True)
class SensorIntervals:
    """Seconds between ticks of the landing sensors and of every other sensor."""

    landing: int
    other: int = OTHER_INTERVAL


def sensor_intervals(env: Mapping[str, str] | None = None) -> SensorIntervals:
    """`HC_SENSOR_INTERVAL_SECONDS` for every sensor; unset: landing 1 s (event mode) or 5 s (listing), others 15 s."""
    env = os.environ if env is None else env
    text = (env.get("HC_SENSOR_INTERVAL_SECONDS") or "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"HC_SENSOR_INTERVAL_SECONDS={text!r}: expected a whole number of seconds, at least 1")
        return SensorIntervals(landing=int(text), other=int(text))
    return default_intervals(event_mode=bool((env.get("HC_S3_EVENT_QUEUE_URL") or "").strip()))


def default_intervals(event_mode: bool) -> SensorIntervals:
    """The landing sensors on every daemon loop in event mode, every 5 s in listing mode; the others every 15 s."""
    return SensorIntervals(landing=EVENT_LANDING_INTERVAL if event_mode else LISTING_LANDING_INTERVAL)
