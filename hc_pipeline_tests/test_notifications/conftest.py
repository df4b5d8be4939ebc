"""A real moto server on 127.0.0.1 for SNS/SQS, a recording Slack stand-in and a recording notifier."""

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from hc_pipeline.resources.notifier import Notifier

REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch, tmp_path) -> str:
    """The moto endpoint, fresh, with fake credentials and no host AWS configuration."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "NO_PROXY": "127.0.0.1,localhost",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10).close()
    return moto_server


class SlackStandIn(ThreadingHTTPServer):
    """Records every POST and answers with the status in `status`."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SlackHandler)
        self.requests: list[dict] = []
        self.status = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T000/B000/secret-token"


class _SlackHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(self.server.status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok" if self.server.status == 200 else b"internal_error")

    def log_message(self, *args):
        pass


@pytest.fixture
def slack(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = SlackStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class RecordingNotifier(Notifier):
    """Appends each notification as one JSON line to `path` (a file survives Dagster copying the resource)."""

    path: str

    def notify(self, subject: str, message: str) -> None:
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"subject": subject, "message": message}) + "\n")

    def sent(self) -> list[dict]:
        file = Path(self.path)
        return [json.loads(line) for line in file.read_text().splitlines()] if file.exists() else []


@pytest.fixture
def recorder(tmp_path) -> RecordingNotifier:
    return RecordingNotifier(path=str(tmp_path / "notifications.jsonl"))
