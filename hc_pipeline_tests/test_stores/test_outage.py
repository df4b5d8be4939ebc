"""Store outages are told apart from other failures, and each gets one line naming the store and what to do."""

import errno

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from hc_pipeline.stores.outage import outage_in, outage_of

STORE = "s3://hc-lake/hc/dev at http://127.0.0.1:9"


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "ListObjectsV2")


def raised(error: BaseException, cause: BaseException | None = None) -> BaseException:
    try:
        raise error from cause
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:9/hc-lake"),
            f"{STORE}: cannot reach the S3 endpoint; check HC_S3_ENDPOINT_URL and the network, then run again",
        ),
        (client_error("NoSuchBucket"), f"{STORE}: the bucket does not exist; create it or correct HC_S3_BUCKET"),
        (
            raised(PermissionError("Access Denied"), client_error("AccessDenied")),
            f"{STORE}: access denied (AccessDenied); check the credentials and the bucket policy or permissions",
        ),
        (
            raised(RuntimeError("step failed"), OSError(errno.ENOSPC, "No space left on device", "/h/lake/a.parquet")),
            "/h/lake/a.parquet: disk full; free space there, then run again",
        ),
    ],
)
def test_each_outage_gets_its_line(error, line):
    outage = outage_of(error)
    assert outage is not None and outage.line(STORE) == line


@pytest.mark.parametrize(
    "error", [ValueError("age: expected a number"), client_error("SlowDown"), FileNotFoundError("gone.csv")]
)
def test_other_failures_are_not_outages(error):
    assert outage_of(error) is None


def test_a_recorded_error_chain_is_read_by_class_name_and_message():
    chain = [
        ("DagsterExecutionHandleOutputError", 'Error occurred while handling output "result"'),
        ("OSError", "OSError: [Errno 28] No space left on device: '/h/lake/b.parquet'\n"),
    ]
    assert outage_in(iter(chain)).line(STORE).startswith("/h/lake/b.parquet: disk full")
    assert outage_in(iter([("ClientConnectorError", "Cannot connect to host 127.0.0.1:9")])).kind == "unreachable"
