"""`python -m bench [--only p1,p1_5m,large_cli,facilities,small_files,fast_commands,sensor,event_tick,partitions,postgres_burst,daemon_latency,pandera_backends,cross_row_state]`."""

import argparse
import importlib
import sys
import time

from bench.measure import machine
from bench.report import RESULTS, load_previous, merge, today, write

BENCHMARKS = {
    "p1": "bench.p1:run",
    "p1_5m": "bench.p1:run_5m",
    "large_cli": "bench.large_cli:run",  # 1M and 10M rows through the CLI (--large-rows)
    "facilities": "bench.facilities:run",
    "small_files": "bench.small_files:run",
    "fast_commands": "bench.fast_commands:run",
    "sensor": "bench.sensor:run",  # it needs the S3 landing zone
    "event_tick": "bench.event_tick:run",
    "partitions": "bench.partitions:run",  # these two start PostgreSQL, the daemon and the webserver
    "postgres_burst": "bench.postgres_burst:run",
    "daemon_latency": "bench.daemon_latency:run",  # the real daemon with default settings, both landing modes
    "pandera_backends": "bench.pandera_backends:run",  # issue 15 item 3: pandera backends vs DuckDB
    "cross_row_state": "bench.cross_row_state:run",  # issue 15 item 2: file-wide state vs whole-file rules
}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    root.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated benchmarks, run in this order: {', '.join(BENCHMARKS)}",
    )
    root.add_argument("--rows", type=int, default=1_000_000, help="P1 rows (default 1,000,000)")
    root.add_argument(
        "--large-rows",
        default="1000000,10000000",
        help="large_cli: file sizes in rows; 10000000x5 is the 10M file five times over",
    )
    root.add_argument("--repeat", type=int, default=3, help="fresh-process runs per measured piece; medians")
    root.add_argument("--skip-lambda", action="store_true", help="P1 without (c), which takes minutes")
    root.add_argument("--landing-files", type=int, default=10_000, help="files for the local landing listing")
    root.add_argument("--sensor-sizes", default="10000,100000", help="landed objects for the sensor ticks")
    root.add_argument("--latency-uploads", type=int, default=5, help="daemon_latency: measured uploads per mode")
    root.add_argument("--latency-group", default="daemon_latency", help="daemon_latency: the group its figures go in")
    return root


def main(argv: list[str] | None = None) -> int:
    opts = parser().parse_args(argv)
    chosen = [name.strip() for name in opts.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    previous, runs = load_previous()
    fresh = []
    for name in (n for n in BENCHMARKS if n in chosen):
        module, function = BENCHMARKS[name].split(":")
        start = time.perf_counter()
        print(f"bench {name} ...", flush=True)
        figures = getattr(importlib.import_module(module), function)(opts)
        fresh.append(figures)
        runs[figures.group] = {"date": today(), "notes": figures.notes}
        for entry in figures.entries:
            print(f"  {entry['name']:40s} {entry['value']!s:>14} {entry['unit']}")
        print(f"bench {name}: {time.perf_counter() - start:.0f} s", flush=True)
        # Written after every benchmark, so a long run that breaks later keeps what it measured.
        write(merge(previous, fresh), runs, machine())
    print(f"wrote {RESULTS / 'latest.json'} and {RESULTS / 'latest.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
