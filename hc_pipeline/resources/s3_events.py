"""S3 event notifications through SQS: which object versions landed, received in batches, deleted when recorded."""

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import dagster as dg
from botocore.exceptions import ClientError
from pydantic import Field, PrivateAttr

from hc_pipeline.partitions import DOMAINS
from hc_pipeline.resources import aws
from hc_pipeline.resources.landing import LandedObject
from hc_pipeline.resources.s3_landing import S3LandingZone

log = logging.getLogger(__name__)
SQS_BATCH = 10  # ReceiveMessage and DeleteMessageBatch take at most 10
DAEMON_LOOP_SECONDS = 5  # Dagster's sensor daemon loop: a tick's long poll must end within it
CALLS_AT_ONCE = aws.POOL_CONNECTIONS  # one connection each; every call waits on the network, not the CPU


def _at_once(call, items: list) -> list:
    """`call` on each item, up to CALLS_AT_ONCE at a time, the results in order."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(len(items), CALLS_AT_ONCE)) as pool:
        return list(pool.map(call, items))


def _text(value: object, name: str) -> str:
    """A notification field that must be text; anything else makes the message malformed (TypeError)."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a string, got {type(value).__name__}")
    return value


@dataclass
class QueueMessage:
    """One SQS message: the landed objects its records announce, or why it could not be read."""

    receipt: str
    message_id: str
    objects: list[LandedObject] = field(default_factory=list)
    problem: str | None = None


class S3EventQueue(dg.ConfigurableResource):
    """The SQS queue that receives the landing bucket's `s3:ObjectCreated:*` notifications."""

    queue_url: str = Field(description="URL of the SQS queue (HC_S3_EVENT_QUEUE_URL).")
    landing: S3LandingZone = Field(description="The landing zone whose bucket notifies the queue.")
    max_receive_calls: int = Field(default=10, description="ReceiveMessage calls (10 messages each) per tick at most.")
    wait_seconds: int = Field(
        default=4,
        ge=1,
        lt=DAEMON_LOOP_SECONDS,
        description="Long-poll wait of a tick's first ReceiveMessage call: a notification arriving meanwhile is "
        "received at once. Just under the sensor daemon's 5-s loop, so the tick waits on the queue for most of "
        "every loop and still leaves the other sensors their turn; far under the daemon's 60-s sensor timeout.",
    )
    visibility_seconds: int = Field(
        default=300,
        description="How long a received message stays hidden: longer than a tick interval, so the "
        "next tick can still delete it with the handle it got.",
    )
    reconcile_seconds: int = Field(default=3600, description="Seconds between reconciliation listings.")

    _client: Any = PrivateAttr(default=None)

    @property
    def client(self):
        """An SQS client with the landing zone's region and endpoint (moto and LocalStack serve both)."""
        if self._client is None:
            self._client = aws.client(
                "sqs", self.landing.region_name, self.landing.endpoint_url, self.landing.max_attempts
            )
        return self._client

    def receive(self) -> list[QueueMessage]:
        """One long-polled batch of 10; if it was full, up to `max_receive_calls - 1` short-polled batches at once.

        A short poll may miss messages that are there (SQS samples its servers); the next tick gets them.
        """
        first = self._receive_batch(self.wait_seconds)
        batches = [first]
        if len(first) == SQS_BATCH and self.max_receive_calls > 1:
            with ThreadPoolExecutor(max_workers=min(self.max_receive_calls - 1, 8)) as pool:
                batches += pool.map(lambda _: self._receive_batch(0), range(self.max_receive_calls - 1))
        return [self.parse(m) for batch in batches for m in batch]

    def _receive_batch(self, wait_seconds: int) -> list[dict]:
        return self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=SQS_BATCH,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=self.visibility_seconds,
        ).get("Messages", [])

    def parse(self, message: dict) -> QueueMessage:
        """The landed objects a message announces; records for other buckets, zones or events are left out."""
        parsed = QueueMessage(receipt=message["ReceiptHandle"], message_id=message["MessageId"])
        try:
            body = json.loads(message["Body"])
            if isinstance(body, dict) and body.get("Type") == "Notification":  # S3 -> SNS -> SQS fan-out
                body = json.loads(body["Message"])
            if not isinstance(body, dict):
                raise ValueError("the body is not a JSON object")
            if body.get("Event") == "s3:TestEvent":
                return parsed
            if "Records" not in body:
                raise ValueError("no Records and not an s3:TestEvent")
            for record in body["Records"]:
                landed = self._landed(record)
                if landed is not None:
                    parsed.objects.append(landed)
        # A message that is not an S3 notification raises one of these (JSONDecodeError is a ValueError, deep nesting
        # a RecursionError); anything else, an AttributeError say, is a bug here and must not delete the message.
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            parsed.objects = []
            parsed.problem = f"{type(error).__name__}: {error}"
        return parsed

    def _landed(self, record: dict) -> LandedObject | None:
        if not _text(record["eventName"], "eventName").startswith("ObjectCreated:"):
            return None
        s3 = record["s3"]
        if s3["bucket"]["name"] != self.landing.bucket:
            return None
        full_key = unquote_plus(_text(s3["object"]["key"], "s3.object.key"))
        base = self.landing.landing_prefix
        if not full_key.startswith(base):
            return None
        key = full_key[len(base) :]
        domain, _, name = key.partition("/")
        # Folder markers are not landed files, as in a listing (dot-files are: any key S3 accepts is processed).
        if domain not in DOMAINS or not name or key.endswith("/"):
            return None
        version = _text(s3["object"]["eTag"], "s3.object.eTag").strip('"')
        return LandedObject(key=key, version=version, last_modified=0.0, size=-1)

    def describe(self, objects: list[LandedObject]) -> list[LandedObject | Exception | None]:
        """Each announced version as a listing shows it; None if since replaced or deleted; the error if HEAD failed."""
        return _at_once(self._head, objects)

    def _head(self, announced: LandedObject) -> LandedObject | Exception | None:
        try:
            head = self.landing.client.head_object(
                Bucket=self.landing.bucket,
                Key=self.landing.landing_prefix + announced.key,
                IfMatch=f'"{announced.version}"',
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "412", "NoSuchKey", "404", "NotFound"):
                return None
            return error
        except Exception as error:  # e.g. the endpoint is unreachable: the message is delivered again
            return error
        return LandedObject(
            key=announced.key,
            version=head["ETag"].strip('"'),
            last_modified=head["LastModified"].timestamp(),
            size=head["ContentLength"],
        )

    def delete(self, receipts: list[str]) -> list[str]:
        """Delete messages by receipt handle, 10 a call, the calls at once; the handles that failed (their message
        comes back)."""
        chunks = [receipts[start : start + SQS_BATCH] for start in range(0, len(receipts), SQS_BATCH)]
        return [receipt for failed in _at_once(self._delete_batch, chunks) for receipt in failed]

    def _delete_batch(self, chunk: list[str]) -> list[str]:
        entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)]
        answer = self.client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return [chunk[int(f["Id"])] for f in answer.get("Failed", [])]
