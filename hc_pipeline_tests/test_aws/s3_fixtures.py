"""S3 on the moto server: an emptied bucket per test, its HC_S3_* environment, and a proxy that fails on demand."""

import http.client
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from hc_pipeline.deployment import build_resources

BUCKET = "hc-lake"
PREFIX = "hc/dev"
REGION = "us-east-1"
SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION)


def s3_env(endpoint: str, **extra: str) -> dict[str, str]:
    """The environment that switches the deployment to the bucket on `endpoint`."""
    return {
        "HC_S3_BUCKET": BUCKET,
        "HC_S3_PREFIX": PREFIX,
        "HC_S3_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        **extra,
    }


def empty_bucket(endpoint: str) -> str:
    """Reset the moto server (every service) and create the bucket again."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request drowns failures
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    return endpoint


@pytest.fixture
def s3_endpoint(moto_server: str) -> str:
    """The moto endpoint with only an empty bucket in it."""
    return empty_bucket(moto_server)


@pytest.fixture
def s3_resources(s3_endpoint: str) -> dict:
    return build_resources(s3_env(s3_endpoint))


def keys_under(endpoint: str, zone: str) -> list[str]:
    """Every object key under `<prefix>/<zone>/`, relative to the prefix."""
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/{zone}/")
    return [item["Key"][len(PREFIX) + 1 :] for page in pages for item in page.get("Contents", [])]


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 to the S3 server that answers 503 SlowDown to the next N matching requests."""

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.requests: list[tuple[str, str, int]] = []
        self._faults: list[tuple[Callable[[str, str], bool], int]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(self, matches: Callable[[str, str], bool], times: int) -> None:
        """Answer the next `times` requests for which `matches(method, path)` holds with 503 SlowDown."""
        with self._lock:
            self._faults.append((matches, times))

    def failed(self) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if r[2] == 503]

    def _take_fault(self, method: str, path: str) -> bool:
        with self._lock:
            for index, (matches, left) in enumerate(self._faults):
                if left and matches(method, path):
                    self._faults[index] = (matches, left - 1)
                    return True
        return False

    def relay(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, list, bytes]:
        if self._take_fault(method, path):
            self.requests.append((method, path, 503))
            return 503, [("Content-Type", "application/xml")], SLOW_DOWN
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            reply = (response.status, response.getheaders(), response.read())
        finally:
            connection.close()
        self.requests.append((method, path, reply[0]))
        return reply

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(proxy: FaultProxy):
    hop_by_hop = {"connection", "keep-alive", "transfer-encoding", "server", "date"}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: with Nagle's algorithm the body waited for the client's delayed
        # ACK (~40 ms a request), which made every S3 request through the proxy about a third slower.
        disable_nagle_algorithm = True

        def do_GET(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in hop_by_hop}
            status, reply_headers, reply = proxy.relay(self.command, self.path, headers, body)
            self.send_response(status)
            for name, value in reply_headers:
                if name.lower() not in hop_by_hop and name.lower() != "content-length":
                    self.send_header(name, value)
            # HEAD answers carry the object's length but no body.
            length = dict((k.lower(), v) for k, v in reply_headers).get("content-length", "0")
            self.send_header("Content-Length", length if self.command == "HEAD" else str(len(reply)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply)

        do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def fault_proxy(s3_endpoint: str):
    proxy = FaultProxy(s3_endpoint)
    yield proxy
    proxy.close()
