"""Failures of a store rather than of a file: endpoint down, bucket missing, access denied, disk full.

Retrying them per step or per file only burns time and attempts; `run` stops at the first one with one line saying
which store and what to do, and the files not yet done stay pending.
"""

import errno
from collections.abc import Iterator
from dataclasses import dataclass

# botocore, aiohttp and fsspec names for "could not reach the endpoint", as Dagster records them (class names).
UNREACHABLE = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "ReadTimeoutError",
    "ProxyConnectionError",
    "ClientConnectorError",
    "ClientOSError",
    "ServerDisconnectedError",
    "ServerTimeoutError",
    "FSTimeoutError",
    "ConnectionRefusedError",
    "ConnectionResetError",
}
# The same, inside a message: DuckDB reports an fsspec error as its own `Error` with the Python error's text.
UNREACHABLE_WORDS = ("EndpointConnectionError", "Could not connect to the endpoint URL", "Connect timeout on endpoint")
DENIED_CODES = (
    "(AccessDenied)",
    "(InvalidAccessKeyId)",
    "(SignatureDoesNotMatch)",
    "(ExpiredToken)",
    "(AllAccessDisabled)",
)
DISK_FULL = (f"[Errno {errno.ENOSPC}]", f"[Errno {errno.EDQUOT}]", "database or disk is full")


class StoreUnavailable(Exception):
    """A store cannot be used now; the message is the operator's one line."""


@dataclass(frozen=True)
class Outage:
    """What is wrong with a store: `unreachable`, `no_bucket`, `denied` or `disk_full`, and the error's own words."""

    kind: str
    detail: str

    def line(self, store: str) -> str:
        """One line naming the store (or the path, when full) and what to do."""
        if self.kind == "unreachable":
            return f"{store}: cannot reach the S3 endpoint; check HC_S3_ENDPOINT_URL and the network, then run again"
        if self.kind == "no_bucket":
            return f"{store}: the bucket does not exist; create it or correct HC_S3_BUCKET"
        if self.kind == "denied":
            return f"{store}: access denied ({self.detail}); check the credentials and the bucket policy or permissions"
        return f"{self.detail or store}: disk full; free space there, then run again"


def outage_in(errors: Iterator[tuple[str, str]]) -> Outage | None:
    """The outage among (class name, message) pairs of an error and its causes, if any."""
    for cls_name, message in errors:
        first = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
        if cls_name in UNREACHABLE or any(words in message for words in UNREACHABLE_WORDS):
            return Outage("unreachable", first)
        if "(NoSuchBucket)" in message or "specified bucket does not exist" in message:
            return Outage("no_bucket", first)
        if any(code in message for code in DENIED_CODES):
            return Outage("denied", next(code for code in DENIED_CODES if code in message).strip("()"))
        if cls_name == "PermissionError" and "[Errno" in message:
            return Outage("denied", first)
        if any(mark in message for mark in DISK_FULL):
            return Outage("disk_full", _filename(first))
    return None


def outage_of(error: BaseException) -> Outage | None:
    """The outage behind a raised error (its causes and contexts included), or None for any other failure."""
    return outage_in(_chain(error))


def _chain(error: BaseException | None) -> Iterator[tuple[str, str]]:
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            yield "OSError", f"[Errno {error.errno}] {error.strerror}: '{error.filename}'"
        else:
            yield type(error).__name__, str(error)
        error = error.__cause__ or error.__context__


def _filename(message: str) -> str:
    """The path an OSError's message ends with (`...: '/path'`), else empty."""
    head, _, tail = message.rpartition(": ")
    return tail.strip("'\"") if head and tail.startswith(("'", '"')) else ""
