"""Environment variables alone choose the backends; none set is the embedded default."""

import pytest

from hc_pipeline.deployment import build_resources
from hc_pipeline.io_managers.athena_tables import LakeAthenaIOManager
from hc_pipeline.io_managers.parquet import LakeParquetIOManager
from hc_pipeline.resources.athena import AthenaQueryEngine
from hc_pipeline.resources.landing import LocalLandingZone
from hc_pipeline.resources.notifier import LogNotifier, SlackWebhookNotifier, SnsNotifier
from hc_pipeline.resources.query_engine import DuckDBQueryEngine
from hc_pipeline.resources.s3_landing import S3LandingZone

S3 = {"HC_S3_BUCKET": "lake-bucket", "HC_S3_PREFIX": "hc/", "HC_S3_SSE": "AES256"}


def test_no_variable_is_the_embedded_default(tmp_path):
    resources = build_resources({"HC_HOME": str(tmp_path)})
    assert isinstance(resources["landing"], LocalLandingZone) and resources["storage"].root == str(tmp_path)
    assert isinstance(resources["query_engine"], DuckDBQueryEngine)
    assert isinstance(resources["io_manager"], LakeParquetIOManager) and isinstance(resources["notifier"], LogNotifier)


def test_bucket_moves_every_zone_to_s3():
    resources = build_resources(S3)
    assert isinstance(resources["landing"], S3LandingZone)
    assert resources["storage"].root == "s3://lake-bucket/hc" and resources["storage"].sse == "AES256"
    assert isinstance(resources["query_engine"], DuckDBQueryEngine)


def test_athena_engine_comes_with_athena_tables():
    resources = build_resources(
        {**S3, "HC_QUERY_ENGINE": "athena", "HC_ATHENA_DATABASE": "hc", "HC_ATHENA_WORKGROUP": "wg"}
    )
    engine = resources["query_engine"]
    assert isinstance(engine, AthenaQueryEngine) and (engine.database, engine.workgroup) == ("hc", "wg")
    assert isinstance(resources["io_manager"], LakeAthenaIOManager)


def test_athena_without_a_bucket_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="needs HC_S3_BUCKET"):
        build_resources({"HC_QUERY_ENGINE": "athena"})


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="expected 'duckdb' or 'athena'"):
        build_resources({"HC_QUERY_ENGINE": "presto"})


def test_sns_topic_picks_sns_and_slack_wins_when_both_are_set(monkeypatch):
    arn = "arn:aws:sns:eu-west-1:123456789012:alerts"
    sns = build_resources({"HC_SNS_TOPIC_ARN": arn})["notifier"]
    assert isinstance(sns, SnsNotifier) and sns.region_name == "eu-west-1"
    monkeypatch.setenv("HC_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    assert isinstance(
        build_resources({"HC_SNS_TOPIC_ARN": arn, "HC_SLACK_WEBHOOK_URL": "x"})["notifier"], SlackWebhookNotifier
    )


def test_an_event_queue_adds_the_queue_on_the_same_landing_zone_and_its_reconcile_interval():
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/hc-landing"
    resources = build_resources({**S3, "HC_S3_EVENT_QUEUE_URL": url, "HC_RECONCILE_SECONDS": "600"})
    queue = resources["landing_events"]
    assert queue.queue_url == url and queue.reconcile_seconds == 600
    assert queue.landing.bucket == "lake-bucket" and queue.landing.landing_prefix == "hc/landing/"
    assert "landing_events" not in build_resources(S3)


def test_an_event_queue_without_a_bucket_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ValueError, match="HC_S3_EVENT_QUEUE_URL needs HC_S3_BUCKET"):
        build_resources({"HC_HOME": str(tmp_path), "HC_S3_EVENT_QUEUE_URL": "https://sqs/queue"})


def test_listing_settings_reach_both_landing_zones(tmp_path):
    listing = {"HC_FULL_LISTING_SECONDS": "120", "HC_FULL_LISTING_BELOW": "100"}
    for env in ({"HC_HOME": str(tmp_path)}, S3):
        landing = build_resources({**env, **listing})["landing"]
        assert (landing.full_listing_seconds, landing.full_listing_below) == (120.0, 100)


def test_export_retention_comes_from_hc_export_keep(tmp_path):
    assert build_resources({"HC_HOME": str(tmp_path)})["exports"].keep == 30
    assert build_resources({"HC_HOME": str(tmp_path), "HC_EXPORT_KEEP": "7"})["exports"].keep == 7
    for bad in ("0", "-3", "ten"):
        with pytest.raises(ValueError, match="HC_EXPORT_KEEP"):
            build_resources({"HC_HOME": str(tmp_path), "HC_EXPORT_KEEP": bad})
