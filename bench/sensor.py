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
    """Land `objects`, settle the cursors as if all were requested, then time one tick of each mode.

    Listing mode, nothing new: a full listing (what every tick did before) and a listing after the greatest
    key seen (the ticks between full listings). Event mode: `new` uploads notified to an SQS queue.
    """
    os.environ.update(FAKE_AWS)
    import boto3
    import dagster as dg
    from botocore.config import Config

    from bench.production import notify_queue
    from hc_pipeline.definitions import make_definitions
    from hc_pipeline.deployment import build_resources
    from hc_pipeline.event_sensor import EventCursor
    from hc_pipeline.landing_cursor import LandingCursor, plan_tick

    with MotoServer() as moto:
        client = boto3.client("s3", endpoint_url=moto.endpoint, config=Config(max_pool_connections=32))
        client.create_bucket(Bucket=BUCKET)
        upload_s = upload(client, 0, objects)
        env = {"HC_S3_BUCKET": BUCKET, "HC_S3_PREFIX": PREFIX, "HC_S3_ENDPOINT_URL": moto.endpoint, **FAKE_AWS}
        resources = build_resources({**env, "HC_HOME": "/nonexistent"})
        landing = resources["landing"]
        # A resource's own config wins over model_copy's update when Dagster initialises it: build it anew.
        always_full = build_resources({**env, "HC_HOME": "/nonexistent", "HC_FULL_LISTING_BELOW": str(10**9)})
        sensor = make_definitions(resources).get_sensor_def("patients_landing_sensor")
        full_sensor = make_definitions(always_full).get_sensor_def("patients_landing_sensor")
        instance = dg.DagsterInstance.ephemeral()

        start = time.perf_counter()
        listed = list(landing.list_objects("patients"))
        list_s = time.perf_counter() - start
        # The cursor after every landed object was requested by a full listing just now.
        _, settled = plan_tick(listed, LandingCursor(), len(listed), full_listing_at=time.time())
        cursor = settled.dump()

        def tick(sensor, zone_resources, cursor) -> tuple[float, object]:
            with dg.build_sensor_context(instance=instance, cursor=cursor, resources=zone_resources) as context:
                begin = time.perf_counter()
                result = sensor(context)
                return time.perf_counter() - begin, result

        full = [tick(full_sensor, always_full, cursor) for _ in range(repeat)]
        after = [tick(sensor, {"landing": landing}, cursor) for _ in range(repeat)]

        sqs = boto3.client("sqs", endpoint_url=moto.endpoint)
        queue = notify_queue(client, sqs, BUCKET, PREFIX, "bench-events")
        event_resources = build_resources({**env, "HC_HOME": "/nonexistent", "HC_S3_EVENT_QUEUE_URL": queue})
        events = make_definitions(event_resources).get_sensor_def("landing_events_sensor")
        upload(client, objects, new)
        not_due = EventCursor(reconciled_at=time.time()).dump()
        with meter:
            busy = tick(events, event_resources, not_due)
        pending = busy[1].cursor
        quiet = [tick(events, event_resources, pending)] + [tick(events, event_resources, not_due) for _ in range(2)]
        reconcile = tick(events, event_resources, EventCursor().dump())
        return {
            "objects": len(listed),
            "upload_s": upload_s,
            "list_s": list_s,
            "cursor_bytes": len(cursor),
            "full_nothing_new_s": statistics.median(t for t, _ in full),
            "after_nothing_new_s": statistics.median(t for t, _ in after),
            "full_all_s": [round(t, 3) for t, _ in full],
            "after_all_s": [round(t, 3) for t, _ in after],
            "skip_reason": after[0][1].skip_reason.skip_message,
            "full_skip_reason": full[0][1].skip_reason.skip_message,
            "event_new_s": busy[0],
            "event_requested": len(busy[1].run_requests),
            "event_quiet_s": statistics.median(t for t, _ in quiet),
            "event_quiet_all_s": [round(t, 3) for t, _ in quiet],
            "reconcile_s": reconcile[0],
            "reconcile_requested": len(reconcile[1].run_requests or []),
        }


def run(opts):
    from bench.measure import run_piece
    from bench.report import Figures

    figures = Figures("sensor")
    for size in (int(s) for s in opts.sensor_sizes.split(",") if s.strip()):
        label = f"{size // 1000}k"
        r = run_piece("bench.sensor:tick_piece", timeout=7200, objects=size)
        every = 20  # HC_FULL_LISTING_SECONDS 300 / a 15 s tick
        amortised = (r["full_nothing_new_s"] + (every - 1) * r["after_nothing_new_s"]) / every
        figures.add(
            f"sensor_{label}_full_listing_s",
            r["full_nothing_new_s"],
            "s",
            f"listing mode, full-listing tick, {r['objects']:,} landed objects, nothing new (median of 3): the baseline",
        )
        figures.add(
            f"sensor_{label}_nothing_new_s",
            r["after_nothing_new_s"],
            "s",
            "listing mode as shipped, nothing new: a tick between full listings, keys after the greatest seen "
            "(median of 3)",
        )
        figures.add(
            f"sensor_{label}_listing_amortised_s",
            amortised,
            "s",
            f"listing mode, mean tick: one full listing every {every} ticks (300 s at 15 s), the rest after-key",
        )
        figures.add(
            f"sensor_{label}_listing_ratio",
            r["full_nothing_new_s"] / amortised,
            "x",
            "full-listing tick / mean tick, same run",
        )
        figures.add(
            f"sensor_{label}_event_100_new_s",
            r["event_new_s"],
            "s",
            f"event mode, {r['objects']:,} landed + 100 new notified ({r['event_requested']} runs requested); "
            "target <= 1 s",
        )
        figures.add(
            f"sensor_{label}_event_nothing_new_s",
            r["event_quiet_s"],
            "s",
            "event mode, empty queue (median of 3; includes the 1 s long poll and deleting the last tick's messages)",
        )
        figures.add(
            f"sensor_{label}_event_reconcile_s",
            r["reconcile_s"],
            "s",
            f"event mode, the hourly reconciliation tick (full listing of both domains; "
            f"{r['reconcile_requested']} missed requested)",
        )
        figures.add(
            f"sensor_{label}_listing_s", r["list_s"], "s", "of which: listing every landed object (ListObjectsV2)"
        )
        figures.add(f"sensor_{label}_cursor_kb", r["cursor_bytes"] / 1024, "KB", "cursor size after all were requested")
        figures.add(f"sensor_{label}_upload_s", r["upload_s"], "s", "setup: uploading the objects, 16 threads")
        figures.note(
            f"{label}: full-listing ticks {r['full_all_s']} s, after-key ticks {r['after_all_s']} s "
            f"(skip reason `{r['skip_reason']}`; full: `{r['full_skip_reason']}`), empty-queue ticks {r['event_quiet_all_s']} s."
        )
    figures.note(
        "moto runs in its own process on 127.0.0.1 and answers each ListObjectsV2 page in time proportional to the "
        "whole bucket, so a full listing grows with the square of the objects there; real S3 pages cost the same "
        "whatever the bucket holds. The landing zone is hc_pipeline's S3LandingZone (1,000 keys a page)."
    )
    return figures
