"""The landing sensor's tick over 10,000 and 100,000 landed objects on a moto S3 server on 127.0.0.1."""

import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

BUCKET, PREFIX = "hc-bench", "bench"
CSV = b"patient_id,age,gender,admission_date,discharge_date,diagnosis\nP1,40,M,2024-01-01,2024-01-03,Flu\n"
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
MOTO = (
    "from moto.server import ThreadedMotoServer; import sys, time; "
    "s = ThreadedMotoServer(ip_address='127.0.0.1', port=0); s.start(); "
    "print('ENDPOINT %s:%s' % s.get_host_and_port(), flush=True); sys.stdin.read()"
)


class MotoServer:
    """moto in its own process, so its request handling does not share our GIL; stopped by closing its stdin."""

    def __enter__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-c", MOTO],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **FAKE_AWS},
        )
        line = ""
        while not line.startswith("ENDPOINT "):  # moto prints its own banner first
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the moto server did not start")
        self.endpoint = "http://" + line.split()[1]
        return self

    def __exit__(self, *exc):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _key(i: int) -> str:
    return f"{PREFIX}/landing/patients/2025/06/{i % 30 + 1:02d}/admissions_{i:06d}.csv"


def upload(client, first: int, count: int, workers: int = 16) -> float:
    """PutObject `count` small CSVs from a bounded thread pool; seconds taken."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda i: client.put_object(Bucket=BUCKET, Key=_key(i), Body=CSV), range(first, first + count)))
    return time.perf_counter() - start


def tick_piece(meter, objects: int, new: int = 100, repeat: int = 3) -> dict:
    """Land `objects`, settle the cursor as if all were requested, then time ticks with nothing new and `new` new."""
    os.environ.update(FAKE_AWS)
    import boto3
    import dagster as dg
    from botocore.config import Config

    from hc_pipeline.definitions import make_definitions
    from hc_pipeline.deployment import build_resources
    from hc_pipeline.landing_cursor import LandingCursor, plan_tick

    with MotoServer() as moto:
        client = boto3.client("s3", endpoint_url=moto.endpoint, config=Config(max_pool_connections=32))
        client.create_bucket(Bucket=BUCKET)
        upload_s = upload(client, 0, objects)
        resources = build_resources(
            {
                "HC_S3_BUCKET": BUCKET,
                "HC_S3_PREFIX": PREFIX,
                "HC_S3_ENDPOINT_URL": moto.endpoint,
                "HC_HOME": "/nonexistent",
                **FAKE_AWS,
            }
        )
        landing = resources["landing"]
        sensor = make_definitions(resources).get_sensor_def("patients_landing_sensor")
        instance = dg.DagsterInstance.ephemeral()

        start = time.perf_counter()
        listed = list(landing.list_objects("patients"))
        list_s = time.perf_counter() - start
        # The cursor after every landed object was requested (ticks of 50 would take objects/50 ticks to get there).
        _, settled = plan_tick(listed, LandingCursor(), len(listed))
        cursor = settled.dump()

        def tick() -> tuple[float, object]:
            with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing": landing}) as context:
                begin = time.perf_counter()
                result = sensor(context)
                return time.perf_counter() - begin, result

        quiet = [tick() for _ in range(repeat)]
        upload(client, objects, new)
        with meter:
            busy = [tick() for _ in range(repeat)]
        requested = len(busy[0][1].run_requests or [])
        return {
            "objects": len(listed),
            "upload_s": upload_s,
            "list_s": list_s,
            "cursor_bytes": len(cursor),
            "nothing_new_s": statistics.median(t for t, _ in quiet),
            "new_s": statistics.median(t for t, _ in busy),
            "nothing_new_all_s": [round(t, 3) for t, _ in quiet],
            "new_all_s": [round(t, 3) for t, _ in busy],
            "skip_reason": getattr(getattr(quiet[0][1], "skip_reason", None), "skip_message", None),
            "requested": requested,
        }


def run(opts):
    from bench.measure import run_piece
    from bench.report import Figures

    figures = Figures("sensor")
    for size in (int(s) for s in opts.sensor_sizes.split(",") if s.strip()):
        label = f"{size // 1000}k"
        r = run_piece("bench.sensor:tick_piece", timeout=7200, objects=size)
        figures.add(
            f"sensor_{label}_nothing_new_s",
            r["nothing_new_s"],
            "s",
            f"one tick, {r['objects']:,} landed objects, nothing new (median of 3)",
        )
        figures.add(
            f"sensor_{label}_100_new_s",
            r["new_s"],
            "s",
            f"one tick, {r['objects']:,} landed + 100 new ({r['requested']} runs requested, the per-tick cap)",
        )
        figures.add(
            f"sensor_{label}_listing_s", r["list_s"], "s", "of which: listing every landed object (ListObjectsV2)"
        )
        figures.add(f"sensor_{label}_cursor_kb", r["cursor_bytes"] / 1024, "KB", "cursor size after all were requested")
        figures.add(f"sensor_{label}_upload_s", r["upload_s"], "s", "setup: uploading the objects, 16 threads")
        figures.note(
            f"{label}: ticks with nothing new {r['nothing_new_all_s']} s, with 100 new {r['new_all_s']} s; "
            f"skip reason `{r['skip_reason']}`."
        )
    figures.note(
        "moto runs in its own process on 127.0.0.1; the landing zone is hc_pipeline's S3LandingZone "
        "(ListObjectsV2, 1,000 keys a page)."
    )
    return figures
