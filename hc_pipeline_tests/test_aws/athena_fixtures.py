"""Athena on the moto server: reset, preset results, held queries, and a paging/fault proxy on 127.0.0.1."""

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from hc_pipeline.resources.athena import AthenaQueryEngine

EXECUTION_MODEL = "athena::execution"
DATABASE = "hc"
OUTPUT = "s3://athena-results/hc/"


@pytest.fixture
def moto_athena(moto_server: str):
    """The moto endpoint, emptied, with queries that succeed at once (moto's default)."""
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    release_queries(moto_server)
    yield moto_server
    release_queries(moto_server)


@pytest.fixture
def athena_proxy(moto_athena: str):
    """A proxy in front of moto that pages results like Athena and can fail chosen queries."""
    proxy = AthenaProxy(moto_athena)
    yield proxy
    proxy.close()


def make_engine(endpoint: str, **overrides) -> AthenaQueryEngine:
    """An engine pointed at `endpoint`, polling fast enough for tests."""
    config = dict(
        region_name="us-east-1",
        endpoint_url=endpoint,
        database=DATABASE,
        workgroup="primary",
        output_location=OUTPUT,
        poll_interval_seconds=0.01,
        max_poll_interval_seconds=0.05,
        timeout_seconds=10,
    )
    return AthenaQueryEngine(**{**config, **overrides})


def athena_client(endpoint: str):
    return boto3.client("athena", region_name="us-east-1", endpoint_url=endpoint)


def athena_result(columns: list[tuple[str, str]], rows: list[list]) -> dict:
    """One preset result: a header row then `rows`; None becomes a datum without VarCharValue."""
    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    data = [{"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]} for row in rows]
    info = [{"Name": name, "Label": name, "Type": kind, "Nullable": "UNKNOWN"} for name, kind in columns]
    return {"rows": [header, *data], "column_info": info}


def preset_results(endpoint: str, *results: dict) -> None:
    """Queue results on moto's Athena; each new query takes the next one (FIFO)."""
    response = requests.post(
        f"{endpoint}/moto-api/static/athena/query-results",
        json={"region": "us-east-1", "results": list(results)},
        timeout=10,
    )
    assert response.status_code == 201, response.text


def hold_queries(endpoint: str) -> None:
    """Keep new queries QUEUED however often they are polled (moto's manual state transitions)."""
    requests.post(
        f"{endpoint}/moto-api/state-manager/set-transition",
        json={"model_name": EXECUTION_MODEL, "transition": {"progression": "manual", "times": 10**9}},
        timeout=10,
    ).raise_for_status()


def release_queries(endpoint: str) -> None:
    requests.post(
        f"{endpoint}/moto-api/state-manager/unset-transition", json={"model_name": EXECUTION_MODEL}, timeout=10
    ).raise_for_status()


def executed_sql(endpoint: str) -> list[str]:
    """The SQL text of every query the moto server received, oldest first."""
    client = athena_client(endpoint)
    ids = client.list_query_executions()["QueryExecutionIds"]
    return [client.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in ids]


class AthenaProxy:
    """HTTP proxy on 127.0.0.1 to moto: pages GetQueryResults like Athena and rewrites chosen states."""

    page_limit = 1000  # Athena's MaxResults ceiling, header row included

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.calls: list[tuple[str, dict]] = []
        self.sql_by_id: dict[str, str] = {}
        self.outcomes: list[tuple[str, dict]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def finish(self, sql_contains: str, state: str, reason: str | None = None, **statistics) -> None:
        """Report queries whose SQL contains `sql_contains` as `state`, with a reason and statistics."""
        self.outcomes.append((sql_contains, {"state": state, "reason": reason, "statistics": statistics}))

    def operations(self, name: str) -> list[dict]:
        return [body for operation, body in self.calls if operation == name]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def relay(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        operation = headers.get("X-Amz-Target", "").rpartition(".")[2]
        request = json.loads(body or b"{}") if operation else {}
        self.calls.append((operation, request))
        status, reply_headers, reply = self._forward(method, path, headers, body)
        if status != 200 or not operation:
            return status, reply_headers, reply
        payload = json.loads(reply)
        if operation == "StartQueryExecution":
            self.sql_by_id[payload["QueryExecutionId"]] = request["QueryString"]
        elif operation == "GetQueryExecution":
            self._rewrite_execution(payload["QueryExecution"])
        elif operation == "GetQueryResults":
            self._page(payload, request)
        return status, reply_headers, json.dumps(payload).encode()

    def _forward(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def _rewrite_execution(self, execution: dict) -> None:
        sql = self.sql_by_id.get(execution["QueryExecutionId"], "")
        for needle, outcome in self.outcomes:
            if needle in sql:
                execution["Status"]["State"] = outcome["state"]
                if outcome["reason"]:
                    execution["Status"]["StateChangeReason"] = outcome["reason"]
                execution["Statistics"].update(outcome["statistics"])

    def _page(self, payload: dict, request: dict) -> None:
        rows = payload["ResultSet"]["Rows"]
        start = int(request.get("NextToken") or 0)
        end = start + min(int(request.get("MaxResults") or self.page_limit), self.page_limit)
        payload["ResultSet"]["Rows"] = rows[start:end]
        if end < len(rows):
            payload["NextToken"] = str(end)


def _handler_for(proxy: AthenaProxy):
    hop_by_hop = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # headers and body are two writes: no wait for a delayed ACK between them

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in hop_by_hop}
            status, reply_headers, reply = proxy.relay(self.command, self.path, headers, body)
            self.send_response(status)
            for name, value in reply_headers.items():
                if name.lower() not in hop_by_hop:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_PUT = do_DELETE = do_HEAD = do_POST

        def log_message(self, *args) -> None:
            pass

    return Handler
