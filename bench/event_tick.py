"""The event-mode landing tick with a big bucket: `objects` landed (not notified), then 100 new notified, three
rounds; each tick's wall clock, its run requests and the files they take."""

import os
import statistics
import time

from bench.deployment import FAKE_AWS
from bench.sensor import BUCKET, PREFIX, MotoServer, upload


def tick_piece(meter, objects: int, new: int = 100, rounds: int = 3) -> dict:
    """Time event-mode ticks that find `new` notified versions, and one with an empty queue."""
    os.environ.update(FAKE_AWS)
    import boto3
    import dagster as dg
    from botocore.config import Config

    from bench.production import notify_queue
    from hc_pipeline.batches import request_objects
    from hc_pipeline.definitions import make_definitions
    from hc_pipeline.deployment import build_resources
    from hc_pipeline.event_sensor import EventCursor

    with MotoServer() as moto:
        client = boto3.client("s3", endpoint_url=moto.endpoint, config=Config(max_pool_connections=32))
        client.create_bucket(Bucket=BUCKET)
        upload_s = upload(client, 0, objects)
        sqs = boto3.client("sqs", endpoint_url=moto.endpoint)
        queue = notify_queue(client, sqs, BUCKET, PREFIX, "bench-events")
        env = {"HC_S3_BUCKET": BUCKET, "HC_S3_PREFIX": PREFIX, "HC_S3_ENDPOINT_URL": moto.endpoint, **FAKE_AWS}
        resources = build_resources({**env, "HC_HOME": "/nonexistent", "HC_S3_EVENT_QUEUE_URL": queue})
        sensor = make_definitions(resources).get_sensor_def("landing_events_sensor")
        instance = dg.DagsterInstance.ephemeral()
        cursor = EventCursor(reconciled_at=time.time()).dump()  # the hourly reconciliation is not due
        ticks, requests, files = [], [], []
        for round_ in range(rounds):
            upload(client, objects + round_ * new, new)
            time.sleep(1)  # moto delivers notifications as the uploads finish
            with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
                start = time.perf_counter()
                result = sensor(context) if round_ else _metered(meter, sensor, context)
                ticks.append(time.perf_counter() - start)
            cursor = result.cursor
            requests.append(len(result.run_requests))
            files.append(sum(len(request_objects(r)) for r in result.run_requests))
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
            start = time.perf_counter()
            sensor(context)
            quiet = time.perf_counter() - start
        return {
            "objects": objects,
            "upload_s": upload_s,
            "ticks": ticks,
            "requests": requests,
            "files": files,
            "quiet_s": quiet,
        }


def _metered(meter, sensor, context):
    with meter:
        return sensor(context)


def run(opts):
    from bench.measure import run_piece
    from bench.report import Figures

    figures = Figures("event_tick")
    for size in (int(s) for s in opts.sensor_sizes.split(",") if s.strip()):
        label = f"{size // 1000}k"
        r = run_piece("bench.event_tick:tick_piece", timeout=7200, objects=size)
        figures.add(
            f"event_tick_{label}_100_new_s",
            statistics.median(r["ticks"]),
            "s",
            f"event mode, {r['objects']:,} landed + 100 new notified, median of {len(r['ticks'])} rounds; target <= 1 s",
        )
        figures.add(f"event_tick_{label}_files", statistics.median(r["files"]), "files", "files requested per tick")
        figures.add(f"event_tick_{label}_runs", statistics.median(r["requests"]), "runs", "run requests per tick")
        figures.add(f"event_tick_{label}_quiet_s", r["quiet_s"], "s", "the next tick, empty queue (1 s long poll)")
        figures.add(f"event_tick_{label}_upload_s", r["upload_s"], "s", "setup: uploading the objects, 16 threads")
        figures.note(
            f"{label}: ticks {[round(t, 3) for t in r['ticks']]} s, requests {r['requests']}, files {r['files']}."
        )
    return figures
