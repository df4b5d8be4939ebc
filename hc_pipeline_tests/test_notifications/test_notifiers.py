"""SnsNotifier against a real moto server, SlackWebhookNotifier against a local HTTP server, and the composers."""

import datetime as dt
import json

import boto3
import dagster as dg
import pandas as pd
import pytest

from hc_pipeline.notifications import check_failure_message, run_failure_message, tier_counts_message
from hc_pipeline.resources.notifier import (
    LogNotifier,
    NotificationError,
    SlackWebhookNotifier,
    SnsNotifier,
    sns_subject,
    topic_region,
)

REGION = "us-east-1"


def topic_with_queue(endpoint: str) -> tuple[str, object, str]:
    sns = boto3.client("sns", region_name=REGION, endpoint_url=endpoint)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
    topic_arn = sns.create_topic(Name="hc-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="hc-alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, sqs, queue_url


def received(sqs, queue_url: str) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_sns_notifier_publishes_subject_and_body_that_reach_a_subscribed_queue(aws):
    topic_arn, sqs, queue_url = topic_with_queue(aws)
    SnsNotifier(topic_arn=topic_arn, region_name=REGION, endpoint_url=aws).notify(
        "hc_pipeline: run failed: patients_job", "Run abc of job patients_job failed."
    )
    [envelope] = received(sqs, queue_url)
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == "hc_pipeline: run failed: patients_job"
    assert envelope["Message"] == "Run abc of job patients_job failed."


def test_sns_notifier_shortens_a_long_non_ascii_subject_and_keeps_it_whole_in_the_body(aws):
    topic_arn, sqs, queue_url = topic_with_queue(aws)
    subject = "hc_pipeline: check failed on Clínica São José\n" + "x" * 150
    SnsNotifier(topic_arn=topic_arn, region_name=REGION, endpoint_url=aws).notify(subject, "body")
    [envelope] = received(sqs, queue_url)
    assert len(envelope["Subject"]) == 100 and envelope["Subject"].endswith("...")
    assert envelope["Subject"].isascii() and "\n" not in envelope["Subject"]
    assert envelope["Message"] == f"{subject}\n\nbody"


def test_sns_notifier_raises_when_the_topic_does_not_exist(aws):
    missing = f"arn:aws:sns:{REGION}:123456789012:no-such-topic"
    with pytest.raises(Exception, match=r"NotFound|does not exist"):
        SnsNotifier(topic_arn=missing, region_name=REGION, endpoint_url=aws).notify("s", "m")


@pytest.mark.parametrize(
    "subject, expected",
    [("short", "short"), ("tab\there", "tab here"), ("é", "?"), ("", "hc_pipeline"), ("a" * 100, "a" * 100)],
)
def test_sns_subject_is_printable_ascii_within_100_characters(subject, expected):
    assert sns_subject(subject) == expected


def test_topic_region_reads_the_region_from_the_arn():
    assert topic_region("arn:aws:sns:eu-west-1:123456789012:hc-alerts") == "eu-west-1"
    with pytest.raises(ValueError, match="not an SNS topic ARN"):
        topic_region("hc-alerts")


def test_slack_notifier_posts_the_subject_in_bold_then_the_message_as_json(slack):
    SlackWebhookNotifier(webhook_url=slack.url, timeout_seconds=5).notify("Run failed", "line 1\nline 2")
    [request] = slack.requests
    assert request["path"] == "/services/T000/B000/secret-token"
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(request["body"]) == {"text": "*Run failed*\nline 1\nline 2"}


def test_slack_notifier_raises_naming_the_status_but_not_the_webhook_url(slack):
    slack.status = 500
    with pytest.raises(NotificationError, match="HTTP 500") as raised:
        SlackWebhookNotifier(webhook_url=slack.url, timeout_seconds=5).notify("s", "m")
    assert "secret-token" not in str(raised.value) and raised.value.__cause__ is None
    assert len(slack.requests) == 1


def test_slack_notifier_raises_when_nothing_listens_without_naming_the_url(slack):
    url = slack.url
    slack.shutdown()
    slack.server_close()
    with pytest.raises(NotificationError, match="unreachable") as raised:
        SlackWebhookNotifier(webhook_url=url, timeout_seconds=2).notify("s", "m")
    assert "secret-token" not in str(raised.value) and "127.0.0.1" not in str(raised.value)


def test_log_notifier_writes_subject_and_message_to_the_log(caplog):
    with caplog.at_level("WARNING", logger="hc_pipeline.notifier"):
        LogNotifier().notify("subject", "message")
    assert "subject: message" in caplog.text


def test_run_failure_message_names_run_job_assets_and_a_truncated_error():
    subject, message = run_failure_message(
        "run-1", "patients_job", [dg.AssetKey(["patients", "raw_records"]), "patients/curated_records"], "e" * 800
    )
    assert subject == "hc_pipeline: run failed: patients_job"
    assert "Run run-1 of job patients_job failed." in message
    assert "Assets: patients/curated_records, patients/raw_records" in message
    error_line = next(line for line in message.splitlines() if line.startswith("Error: "))
    assert len(error_line) == len("Error: ") + 500 and error_line.endswith("...")


def test_check_failure_message_carries_location_and_count_but_no_values():
    subject, message = check_failure_message(dg.AssetKey(["patients", "raw_records"]), "file_readable", "p-1", 3)
    assert subject == "hc_pipeline: check file_readable failed on patients/raw_records"
    assert message.splitlines() == [
        "ERROR check file_readable failed on patients/raw_records, partition p-1.",
        "Failing rows: 3",
        "Open the asset's checks in Dagster for the masked sample.",
    ]


def test_check_failure_message_gives_the_reason_when_there_is_no_count():
    _, message = check_failure_message("patients/raw_records", "file_readable", None, None, "x.csv: not UTF-8")
    assert "failed on patients/raw_records." in message and "Reason: x.csv: not UTF-8" in message
    assert "Failing rows" not in message


def test_tier_counts_message_lists_counts_then_at_most_20_critical_facilities():
    facilities = [(f"FAC-{i:04d}", f"Facility {i}") for i in range(25)]
    subject, message = tier_counts_message(
        {"critical": 25, "high": 4}, facilities + facilities[:2], dt.date(2025, 6, 30)
    )
    assert subject == "hc_pipeline: expiring accreditations as of 2025-06-30: 25 critical, 4 high, 0 medium"
    lines = message.splitlines()
    assert lines[:5] == [
        "Expiring accreditations as of 2025-06-30:",
        "- critical (0-30 days): 25",
        "- high (31-60 days): 4",
        "- medium (61-90 days): 0",
        "Critical facilities (25):",
    ]
    assert lines[5] == "- FAC-0000 Facility 0" and lines[24] == "- FAC-0019 Facility 19"
    assert lines[25:] == ["and 5 more"]


def test_tier_counts_message_shows_expired_when_given_and_says_when_no_facility_is_critical():
    _, message = tier_counts_message({"expired": 2, "critical": 0, "high": 0, "medium": 1}, [], "2025-06-30")
    assert "- expired: 2" in message and message.endswith("No facility in the critical tier.")


PATIENTS = pd.DataFrame({"patient_id": ["P-000123", "P-000456"], "name": ["Ann Lee", "Bob Roe"]})


@pytest.mark.parametrize(
    "compose",
    [
        lambda: tier_counts_message(PATIENTS, [], "2025-06-30"),
        lambda: tier_counts_message({"critical": PATIENTS["patient_id"]}, [], "2025-06-30"),
        lambda: tier_counts_message({"critical": 1}, PATIENTS, "2025-06-30"),
        lambda: check_failure_message("patients/raw_records", "ids_unique", None, PATIENTS),
        lambda: check_failure_message("patients/raw_records", "ids_unique", None, PATIENTS["patient_id"]),
        lambda: check_failure_message("patients/raw_records", "ids_unique", None, 1, reason=PATIENTS),
        lambda: run_failure_message("r", "j", PATIENTS, "error"),
        lambda: run_failure_message("r", "j", PATIENTS["patient_id"], "error"),
    ],
)
def test_composers_refuse_frames_and_series_of_patient_data(compose):
    with pytest.raises(TypeError):
        compose()


def test_composers_refuse_unknown_tiers():
    with pytest.raises(ValueError, match="unknown tiers"):
        tier_counts_message({"patients": 3}, [], "2025-06-30")
