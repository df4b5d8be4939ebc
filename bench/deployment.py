"""A live deployment (end-to-end tests, latency bench): dagster-daemon and dagster-webserver in their own group."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEV_INSTANCE = REPO / "deploy" / "dagster-dev.yaml"  # what `make dev` uses
BIN = Path(sys.executable).parent
# Credentials moto accepts, so no real AWS account is ever touched.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Deployment:
    """A daemon and a webserver on a temporary DAGSTER_HOME; `stop()` leaves no process behind."""

    def __init__(self, dagster_home: Path, env: dict[str, str], instance_yaml: str | None = None):
        self.home = dagster_home
        self.instance_yaml = instance_yaml or DEV_INSTANCE.read_text()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "DAGSTER_HOME": str(dagster_home), "TMPDIR": str(dagster_home / "tmp")}
        self.processes: list[subprocess.Popen] = []

    def start(self, timeout: float = 120.0, daemon: bool = True) -> "Deployment":
        (self.home / "tmp").mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(self.instance_yaml)
        # Create the instance's schema once: daemon and webserver racing to do it can both fail.
        migrated = subprocess.run(
            [str(BIN / "dagster"), "instance", "migrate"],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if migrated.returncode:
            raise RuntimeError(f"dagster instance migrate failed:\n{migrated.stderr[-3000:]}")
        workspace = str(REPO / "workspace.yaml")
        services = [
            ("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace]),
            ("webserver", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.port), "-w", workspace]),
        ]
        for name, args in services if daemon else services[1:]:
            log = (self.home / f"{name}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/server_info", timeout=2):
                    return self
            except OSError:
                if any(p.poll() is not None for p in self.processes):
                    raise RuntimeError(f"a Dagster process exited early; see {self.home}/*.log") from None
                time.sleep(0.5)
        raise TimeoutError(f"webserver not up after {timeout}s; see {self.home}/webserver.log")

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise RuntimeError(payload["errors"])
        return payload["data"]

    def stop(self, timeout: float = 30.0) -> list[int]:
        """SIGTERM each process group, wait (bounded), SIGKILL stragglers; return the pids still running."""
        groups = [p.pid for p in self.processes]
        for pgid in groups:
            _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(live_members(g) for g in groups):
            for process in self.processes:
                process.poll()
            time.sleep(0.2)
        for pgid in groups:
            if live_members(pgid):
                _signal_group(pgid, signal.SIGKILL)
        for process in self.processes:
            process.wait(10)
        time.sleep(0.5)
        return [pid for g in groups for pid in live_members(g)]


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def live_members(pgid: int) -> list[int]:
    """Pids in process group `pgid` that are running (zombies awaiting a reaper do not count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def wait_for(predicate, timeout: float, interval: float = 2.0, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value or the bounded wait runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
