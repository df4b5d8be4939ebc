"""Dynamic partitions over time: the landing sensor's tick and the partitions page at 1,000 and 20,000 partitions.

On the production instance shape (deploy/dagster.yaml storage on a throwaway PostgreSQL), with the real daemon
and webserver. Partitions and their materializations are recorded as runless events (a run per partition
would take hours); runs the sensor requests stay queued (max_concurrent_runs 0), so only the tick is measured.
Run: `.venv/bin/python -m bench --only partitions` (about 10 minutes).
"""

import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

from bench.deployment import REPO, Deployment, wait_for
from bench.postgres import PostgresServer, postgres_bin

ASSET = ["patients", "curated_records"]
# The query the asset's Partitions tab sends (Dagster UI 1.13, less its multi-partition fragment).
PARTITION_HEALTH = """query PartitionHealthQuery($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) { ... on AssetNode { id
    partitionKeysByDimension { name type partitionKeys }
    assetPartitionStatuses {
      ... on TimePartitionStatuses { ranges { status startTime endTime startKey endKey } }
      ... on DefaultPartitionStatuses { materializedPartitions materializingPartitions failedPartitions }
    } } } }"""
TICKS = """{ sensorOrError(sensorSelector: {repositoryLocationName: "hc_pipeline.definitions",
  repositoryName: "__repository__", sensorName: "patients_landing_sensor"}) { ... on Sensor { sensorState {
  ticks(limit: 50) { timestamp endTimestamp status runIds } } } } }"""
CSV = b"patient_id,age,gender,admission_date,discharge_date,diagnosis\n"


def instance_yaml(port: int) -> str:
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    config["storage"]["postgres"]["postgres_db"]["port"] = port
    for local in ("run_launcher", "compute_logs"):
        config.pop(local)
    config["run_coordinator"]["config"]["max_concurrent_runs"] = 0  # requested runs wait: only ticks are timed
    return yaml.safe_dump(config, sort_keys=False)


def add_partitions(instance, dagster_home: Path, first: int, count: int, workers: int = 4) -> float:
    """Add partitions first..first+count with one materialization each, from `workers` processes; seconds taken."""
    keys = [f"file_{i:06d}.csv@{i:08x}" for i in range(first, first + count)]
    start = time.perf_counter()
    instance.add_dynamic_partitions("patients_files", keys)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_materialize, [str(dagster_home)] * workers, [keys[i::workers] for i in range(workers)]))
    return time.perf_counter() - start


def _materialize(dagster_home: str, keys: list[str]) -> None:
    import dagster as dg

    with dg.DagsterInstance.from_config(dagster_home) as instance:
        for key in keys:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=ASSET, partition=key))


def partitions_page(deployment: Deployment, expected: int, repeat: int = 3) -> tuple[float, int]:
    """Median seconds of the partitions tab's query, and how many partitions it said were materialized."""
    walls, count = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        node = deployment.graphql(PARTITION_HEALTH, {"assetKey": {"path": ASSET}})["assetNodeOrError"]
        walls.append(time.perf_counter() - start)
        count = len(node["assetPartitionStatuses"]["materializedPartitions"])
    if count < expected:
        raise RuntimeError(f"the partitions page shows {count} materialized partitions, expected {expected}")
    return statistics.median(walls), count


def sensor_tick(deployment: Deployment, landing: Path, batch: str) -> dict:
    """Land 50 new files, wait for the tick that requests their runs; its duration and the quiet ticks' after it."""
    seen = {t["timestamp"] for t in deployment.graphql(TICKS)["sensorOrError"]["sensorState"]["ticks"]}
    for i in range(50):
        (landing / f"{batch}_{i:03d}.csv").write_bytes(CSV + f"P{i},40,F,2024-01-01,2024-01-02,Flu\n".encode())

    def ticks():
        found = deployment.graphql(TICKS)["sensorOrError"]["sensorState"]["ticks"]
        fresh = [t for t in found if t["timestamp"] not in seen and t["endTimestamp"]]
        busy = [t for t in fresh if t["runIds"]]
        quiet = [t for t in fresh if not t["runIds"] and busy and t["timestamp"] > busy[0]["timestamp"]]
        return (busy, quiet) if busy and len(quiet) >= 3 else None

    busy, quiet = wait_for(ticks, 900, 2.0, "the sensor's ticks")
    return {
        "busy_s": busy[0]["endTimestamp"] - busy[0]["timestamp"],
        "runs": len(busy[0]["runIds"]),
        "quiet_s": statistics.median(t["endTimestamp"] - t["timestamp"] for t in quiet[:3]),
    }


def measure(sizes=(1_000, 20_000)) -> dict:
    import dagster as dg

    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; `make postgres`)")
    work = Path(tempfile.mkdtemp(prefix="hc-partitions-"))
    server = PostgresServer(bin_dir, work).start()
    home = work / "home"
    landing = home / "landing" / "patients"
    landing.mkdir(parents=True)
    env = {**server.env, "HC_HOME": str(home), "HC_SENSOR_INTERVAL_SECONDS": "5"}
    os.environ.update(server.env)
    deployment = Deployment(work / "dagster", env, instance_yaml(server.port)).start()
    results, total = {}, 0
    try:
        instance = dg.DagsterInstance.from_config(str(work / "dagster"))
        for size in sizes:
            setup_s = add_partitions(instance, work / "dagster", total, size - total)
            total = size
            page_s, shown = partitions_page(deployment, size)
            results[size] = {
                "setup_s": setup_s,
                "page_s": page_s,
                "shown": shown,
                **sensor_tick(deployment, landing, f"b{size}"),
            }
    finally:
        deployment.stop()
        server.stop()
    return results


def run(opts):
    return figures_of(measure())


def figures_of(r: dict):
    from bench.report import Figures

    figures = Figures("partitions")
    base, big = r[1_000], r[20_000]
    for size, label in ((1_000, "1k"), (20_000, "20k")):
        x = r[size]
        figures.add(
            f"partitions_{label}_page_s",
            x["page_s"],
            "s",
            f"partitions tab query (PartitionHealthQuery), {size:,} partitions, median of 3",
        )
        figures.add(
            f"partitions_{label}_tick_busy_s",
            x["busy_s"],
            "s",
            f"landing sensor tick that adds {x['runs']} partitions and requests their runs",
        )
        figures.add(
            f"partitions_{label}_tick_quiet_s", x["quiet_s"], "s", "landing sensor tick with nothing new (median of 3)"
        )
        figures.add(
            f"partitions_{label}_setup_s",
            x["setup_s"],
            "s",
            "setup: add the partitions and one runless materialization each",
        )
    figures.add("partitions_page_ratio", big["page_s"] / base["page_s"], "x", "partitions tab at 20k / at 1k, same run")
    figures.add(
        "partitions_tick_ratio", big["busy_s"] / base["busy_s"], "x", "requesting tick at 20k / at 1k, same run"
    )
    figures.note(
        "Postgres storage as in deploy/dagster.yaml, the real dagster-daemon and dagster-webserver, local landing folder."
    )
    return figures


if __name__ == "__main__":
    print(measure())
