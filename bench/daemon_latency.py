"""Upload-to-materialized latency of a 1,000-row patients file under the real daemon (median of 5 uploads).

Run: `.venv/bin/python -m bench.daemon_latency`. Prints the phases of each upload: sensor pickup (upload to
run created), queue + launch (created to started), run (started to ended), and the total.
"""

import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from bench.deployment import FAKE_AWS, Deployment, wait_for
from hc_pipeline.generate.writer import generate

RUNS = """{ runsOrError(filter: {pipelineName: "patients_file_job"}) { ... on Runs { results {
  status creationTime startTime endTime tags { key value } } } } }"""


def main(uploads: int = 5, rows: int = 1_000, tick: int = 2) -> dict:
    import os

    os.environ.update(FAKE_AWS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = "http://{}:{}".format(*server.get_host_and_port())
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket="hc-latency")
    work = Path(tempfile.mkdtemp(prefix="hc-latency-"))
    env = {
        "HC_S3_BUCKET": "hc-latency",
        "HC_S3_ENDPOINT_URL": endpoint,
        "HC_SENSOR_INTERVAL_SECONDS": str(tick),
        "HC_HOME": str(work / "home"),
    }
    deployment = Deployment(work / "dagster", env).start()
    phases = []
    try:
        for i in range(uploads):
            data = generate_csv(rows, seed=i)
            key = f"patients/latency_{i}.csv"
            started = time.time()
            s3.put_object(Bucket="hc-latency", Key=f"landing/{key}", Body=data)
            run = wait_for(lambda key=key: done_run(deployment, key), 600, 0.5, f"the run of {key}")
            phases.append(
                {
                    "pickup_s": run["creationTime"] - started,
                    "launch_s": run["startTime"] - run["creationTime"],
                    "run_s": run["endTime"] - run["startTime"],
                    "total_s": run["endTime"] - started,
                }
            )
    finally:
        deployment.stop()
        server.stop()
    summary = {k: round(statistics.median(p[k] for p in phases), 2) for k in phases[0]}
    print(json.dumps({"uploads": phases, "median": summary, "rows": rows, "sensor_interval_s": tick}, indent=2))
    return summary


def generate_csv(rows: int, seed: int) -> bytes:
    out = Path(tempfile.mkdtemp(prefix="hc-latency-input-"))
    generate(out, patients=rows, facilities=10, seed=seed, run_date=dt.date.today(), patient_files=1, facility_files=1)
    return next((out / "patients").iterdir()).read_bytes()


def done_run(deployment: Deployment, key: str) -> dict | None:
    for run in deployment.graphql(RUNS)["runsOrError"]["results"]:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        if tags.get("hc/object_key") == key and run["status"] == "SUCCESS":
            return run
    return None


if __name__ == "__main__":
    main()
