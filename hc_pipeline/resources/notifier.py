"""Notifications to people: the log by default; SNS and Slack share this interface."""

import json
import logging
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from hc_pipeline.resources import aws

logger = logging.getLogger("hc_pipeline.notifier")

SNS_SUBJECT_MAX = 100


class NotificationError(Exception):
    """A notifier could not deliver a message; the text names the channel and the status, never a secret."""


class Notifier(dg.ConfigurableResource, ABC):
    """Sends a short message with a subject; messages never carry patient identifiers."""

    @abstractmethod
    def notify(self, subject: str, message: str) -> None:
        """Deliver one message."""


class LogNotifier(Notifier):
    """Writes notifications to the log."""

    def notify(self, subject: str, message: str) -> None:
        logger.warning("%s: %s", subject, message)


def sns_subject(subject: str) -> str:
    """The subject as SNS accepts it: printable ASCII on one line, at most 100 characters."""
    ascii_text = subject.encode("ascii", "replace").decode("ascii")
    one_line = "".join(c if c.isprintable() else " " for c in ascii_text).strip() or "hc_pipeline"
    if len(one_line) <= SNS_SUBJECT_MAX:
        return one_line
    return one_line[: SNS_SUBJECT_MAX - 3] + "..."


def topic_region(topic_arn: str) -> str:
    """The region inside an SNS topic ARN (`arn:aws:sns:<region>:<account>:<name>`)."""
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sns"] or not parts[3]:
        raise ValueError(f"not an SNS topic ARN: {topic_arn!r}")
    return parts[3]


class SnsNotifier(Notifier):
    """Publishes each notification to an SNS topic (e-mail, SQS or chat subscribers fan out from there)."""

    topic_arn: str = Field(description="ARN of the SNS topic to publish to.")
    region_name: str = Field(description="AWS region of the topic.")
    endpoint_url: str | None = Field(default=None, description="Custom SNS endpoint (tests, VPC endpoints).")

    _client: Any = PrivateAttr(default=None)

    def notify(self, subject: str, message: str) -> None:
        if self._client is None:
            self._client = aws.client("sns", self.region_name, self.endpoint_url)
        client = self._client
        # The full subject is repeated in the body: SNS truncation must not lose what the caller wrote.
        body = message if sns_subject(subject) == subject else f"{subject}\n\n{message}"
        client.publish(TopicArn=self.topic_arn, Subject=sns_subject(subject), Message=body)


class SlackWebhookNotifier(Notifier):
    """Posts each notification to a Slack incoming webhook."""

    webhook_url: str = Field(description="Slack incoming webhook URL; a secret, so set it with dg.EnvVar.")
    timeout_seconds: float = Field(default=10.0, description="Seconds to wait for Slack to answer.")

    def notify(self, subject: str, message: str) -> None:
        payload = json.dumps({"text": f"*{subject}*\n{message}"}).encode("utf-8")
        request = urllib.request.Request(
            self.webhook_url,
            data=payload,
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        # Errors are re-raised without their cause: urllib's exceptions can carry the URL, which is the secret.
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
            error.close()
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise NotificationError(f"Slack webhook unreachable: {type(reason).__name__}") from None
        if not 200 <= status < 300:
            raise NotificationError(f"Slack webhook answered HTTP {status}")
