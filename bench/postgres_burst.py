"""200 small files landed at once on the production shape: Postgres, queued runs (deploy/dagster.yaml's limits),
event mode through SQS on a moto server, new files in batch runs (at most 50 files each). The default test suite
does the same with 9 files, 2 to a batch.

Run: `.venv/bin/python -m bench --only postgres_burst` (or `python -m bench.postgres_burst 200`).
"""

import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from bench.deployment import FAKE_AWS, Deployment, wait_for
from bench.postgres import PostgresServer, postgres_bin
from bench.production import (
    InProgressSampler,
    all_ended,
    curated_partitions,
    logs_mentioning,
    notify_queue,
    patient_runs,
    production_instance_yaml,
    small_file,
)

BUCKET, PREFIX = "hc-burst", "burst"
MAX_RUNS, PER_PARTITION_SET = 8, 4  # deploy/dagster.yaml's limits


def measure(files: int = 200, budget_s: float = 4 * 3600) -> dict:
    os.environ.update(FAKE_AWS)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    endpoint = "http://{}:{}".format(*moto.get_host_and_port())
    s3, sqs = boto3.client("s3", endpoint_url=endpoint), boto3.client("sqs", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    queue = notify_queue(s3, sqs, BUCKET, PREFIX, "burst-events")
    work = Path(tempfile.mkdtemp(prefix="hc-burst-"))
    server = PostgresServer(postgres_bin(), work).start()
    env = {
        **server.env,
        "HC_S3_BUCKET": BUCKET,
        "HC_S3_PREFIX": PREFIX,
        "HC_S3_ENDPOINT_URL": endpoint,
        "HC_S3_EVENT_QUEUE_URL": queue,
        "HC_SENSOR_INTERVAL_SECONDS": "2",
        "DAGSTER_COMPUTE_LOG_PREFIX": f"{PREFIX}/dagster-logs",
        "HC_HOME": str(work / "unused_home"),
    }
    yaml = production_instance_yaml(server.port, endpoint, MAX_RUNS, PER_PARTITION_SET)
    deployment = Deployment(work / "dagster", env, yaml).start()
    try:
        with InProgressSampler(deployment, interval=1.0) as sampler:
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(
                    pool.map(
                        lambda i: s3.put_object(
                            Bucket=BUCKET, Key=f"{PREFIX}/landing/patients/burst/f_{i:03d}.csv", Body=small_file(i)
                        ),
                        range(files),
                    )
                )
            upload_s = time.perf_counter() - start

            try:
                wait_for(lambda: len(set(curated_partitions(deployment, files * 3))) >= files, budget_s, 5.0, "files")
                runs = wait_for(lambda: (r := patient_runs(deployment)) and all_ended(r) and r, 600, 5.0, "runs")
            except TimeoutError:  # report how far it got
                runs = patient_runs(deployment)
            wall_s = time.perf_counter() - start
        partitions = curated_partitions(deployment, files * 3)
        return {
            "files": files,
            "runs": len(runs),
            "processed": len(set(partitions)),
            "upload_s": upload_s,
            "wall_s": wall_s,
            "per_file_s": wall_s / max(len(set(partitions)), 1),
            "succeeded": sum(r["status"] == "SUCCESS" for r in runs),
            "twice": len(partitions) - len(set(partitions)),
            "most_in_progress": sampler.most_in_progress,
            "most_of_one_partition_set": sampler.most_of_one_partition_set,
            "locked_lines": len(logs_mentioning(work / "dagster", "database is locked")),
        }
    finally:
        deployment.stop()
        server.stop()
        moto.stop()


def run(opts):
    from bench.report import Figures

    figures = Figures("postgres_burst")
    r = measure()
    figures.add("burst_files", r["files"], "files", "small patients CSVs (5 rows) uploaded at once, 8 threads")
    figures.add("burst_wall_s", r["wall_s"], "s", "first upload to the last run ended")
    figures.add("burst_processed", r["processed"], "files", "files curated within the bench's time budget; target all")
    figures.add("burst_runs", r["runs"], "runs", "runs (batch runs and runs of one file) that took them")
    figures.add("burst_per_file_s", r["per_file_s"], "s", "wall / files processed")
    figures.add("burst_succeeded", r["succeeded"], "runs", "runs that succeeded; target: all")
    figures.add("burst_twice", r["twice"], "files", "files curated more than once; target 0")
    figures.add(
        "burst_most_in_progress", r["most_in_progress"], "runs", f"most runs in progress at a sample (limit {MAX_RUNS})"
    )
    figures.add(
        "burst_most_one_partition_set",
        r["most_of_one_partition_set"],
        "runs",
        f"most runs of one partition set in progress (limit {PER_PARTITION_SET})",
    )
    figures.add("burst_database_locked", r["locked_lines"], "lines", "log lines with 'database is locked'; target 0")
    return figures


if __name__ == "__main__":
    print(measure(*(float(a) if i else int(a) for i, a in enumerate(sys.argv[1:3]))))
