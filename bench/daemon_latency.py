"""Upload-to-materialized latency of a 1,000-row patients file under the real daemon, in both landing modes.

Run: `python -m bench --only daemon_latency` (records the figures) or `python -m bench.daemon_latency [listing|event]`
(prints them). Default settings: no HC_SENSOR_INTERVAL_SECONDS, the instance yaml of `make dev`. Per upload:
sensor pickup (upload to run created), queue + launch (created to started), run (started to ended), total.
One warm-up upload per mode is not counted. Each measured upload lands on an idle platform: after the previous
file's report refresh (the automation sensor's run, up to 30 s later) has ended, and then a random 0-5 s, so
uploads fall at any point of the sensor's tick cycle. `idle=False` lands them back to back instead (0-5 s after
the previous file's run), so they share the 2 cores with that refresh.
"""

import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from bench.deployment import FAKE_AWS, Deployment, wait_for
from bench.production import notify_queue
from bench.report import Figures
from hc_pipeline.generate.writer import generate

MODES = ("listing", "event")
PREFIX = "latency"
PHASES = ("pickup_s", "launch_s", "run_s", "total_s")
RUNS = """{ runsOrError(filter: {pipelineName: "patients_file_job"}) { ... on Runs { results {
  status creationTime startTime endTime tags { key value } } } } }"""
ALL_RUNS = """{ runsOrError { ... on Runs { results { status creationTime } } } }"""
ENDED = ("SUCCESS", "FAILURE", "CANCELED")


def run(opts) -> Figures:
    """Both modes, median of `--latency-uploads` (5) each, as bench figures."""
    figures = Figures(getattr(opts, "latency_group", None) or "daemon_latency")
    for mode in MODES:
        result = measure(mode, uploads=getattr(opts, "latency_uploads", 5))
        for phase in PHASES:
            figures.add(
                f"latency_{mode}_{phase}",
                result["median"][phase],
                "s",
                f"{mode} mode, median of {len(result['uploads'])}: {phase[:-2].replace('_', ' ')}",
            )
        figures.note(
            f"{mode} mode, each upload on an idle platform: load average {result['load_before']} before, {result['load_after']} after; per upload "
            + "; ".join(" / ".join(f"{u[p]:.1f}" for p in PHASES) for u in result["uploads"])
            + " s (pickup / queue+launch / run / total)"
        )
    return figures


def measure(mode: str, uploads: int = 5, rows: int = 1_000, idle: bool = True) -> dict:
    """Start moto, the daemon and the webserver with default settings; land `uploads` files one at a time."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    os.environ.update(FAKE_AWS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = "http://{}:{}".format(*server.get_host_and_port())
    s3 = boto3.client("s3", endpoint_url=endpoint)
    # A bucket per mode: moto keeps its state per process, and the second mode's notifications went missing
    # when both modes shared one bucket.
    bucket = f"hc-latency-{mode}"
    s3.create_bucket(Bucket=bucket)
    work = Path(tempfile.mkdtemp(prefix="hc-latency-"))
    env = {
        "HC_S3_BUCKET": bucket,
        "HC_S3_PREFIX": PREFIX,
        "HC_S3_ENDPOINT_URL": endpoint,
        "HC_HOME": str(work / "home"),
    }
    os.environ.pop("HC_SENSOR_INTERVAL_SECONDS", None)
    if mode == "event":
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        env["HC_S3_EVENT_QUEUE_URL"] = notify_queue(s3, sqs, bucket, PREFIX, "hc-latency-events")
    load_before = round(os.getloadavg()[0], 2)
    deployment = Deployment(work / "dagster", env).start()
    pace = random.Random(12)
    phases, ended = [], 0.0
    try:
        for i in range(uploads + 1):
            data = generate_csv(rows, seed=i)
            key = f"patients/latency_{mode}_{i}.csv"
            if i:
                if idle:
                    wait_for(lambda since=ended: refreshed(deployment, since), 600, 0.5, "the report refresh")
                time.sleep(pace.uniform(0, 5))
            started = time.time()
            s3.put_object(Bucket=bucket, Key=f"{PREFIX}/landing/{key}", Body=data)
            found = wait_for(lambda key=key: done_run(deployment, key), 600, 0.2, f"the run of {key}")
            ended = found["endTime"]
            if i:  # the first upload warms the code server up
                phases.append(
                    {
                        "pickup_s": found["creationTime"] - started,
                        "launch_s": found["startTime"] - found["creationTime"],
                        "run_s": found["endTime"] - found["startTime"],
                        "total_s": found["endTime"] - started,
                    }
                )
    finally:
        deployment.stop()
        server.stop()
    median = {k: round(statistics.median(p[k] for p in phases), 2) for k in PHASES}
    load_after = round(os.getloadavg()[0], 2)
    return {
        "mode": mode,
        "idle": idle,
        "uploads": phases,
        "median": median,
        "load_before": load_before,
        "load_after": load_after,
    }


def generate_csv(rows: int, seed: int) -> bytes:
    out = Path(tempfile.mkdtemp(prefix="hc-latency-input-"))
    generate(out, patients=rows, facilities=10, seed=seed, run_date=dt.date.today(), patient_files=1, facility_files=1)
    return next((out / "patients").iterdir()).read_bytes()


def refreshed(deployment: Deployment, since: float) -> bool:
    """True when no run is queued or running, and a run created after `since` (the report refresh) has ended or
    the automation sensor (30-s interval) has had 45 s to start one."""
    runs = deployment.graphql(ALL_RUNS)["runsOrError"]["results"]
    later = any(r["creationTime"] > since for r in runs) or time.time() - since > 45
    return later and all(r["status"] in ENDED for r in runs)


def done_run(deployment: Deployment, key: str) -> dict | None:
    for found in deployment.graphql(RUNS)["runsOrError"]["results"]:
        tags = {t["key"]: t["value"] for t in found["tags"]}
        if tags.get("hc/object_key") == key:
            if found["status"] == "FAILURE":
                raise RuntimeError(f"the run of {key} failed; see the Dagster UI of {deployment.home}")
            if found["status"] == "SUCCESS":
                return found
    return None


if __name__ == "__main__":
    for name in sys.argv[1:] or MODES:
        print(json.dumps(measure(name), indent=2))
