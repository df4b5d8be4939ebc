"""One measured piece in a fresh process: setup untimed, then `with meter:` around the work.

Prints one line `BENCH-RESULT {json}` with wall_s, cpu_s (all threads), peak_rss_mb (peak during the work: the kernel's
high-water mark is reset when the work starts), base_rss_mb (resident before the work) and the piece's own fields.
"""

import importlib
import json
import resource
import sys
import time

from bench.measure import MARK


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


class Meter:
    """Wall clock and peak RSS of the block it wraps."""

    def __init__(self):
        self.wall_s = self.cpu_s = self.peak_rss_mb = self.base_rss_mb = None

    def __enter__(self):
        self.base_rss_mb = _status_kb("VmRSS") / 1024
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # reset VmHWM to the current RSS
        except OSError:
            pass
        self._cpu = _cpu_s()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall_s = time.perf_counter() - self._start
        self.cpu_s = _cpu_s() - self._cpu
        self.peak_rss_mb = _status_kb("VmHWM") / 1024
        return False


def main() -> None:
    target, kwargs = sys.argv[1], json.loads(sys.argv[2])
    module, function = target.split(":")
    piece = getattr(importlib.import_module(module), function)
    meter = Meter()
    extra = piece(meter, **kwargs) or {}
    result = {
        "wall_s": meter.wall_s,
        "cpu_s": meter.cpu_s,
        "peak_rss_mb": meter.peak_rss_mb,
        "base_rss_mb": meter.base_rss_mb,
        **extra,
    }
    print(MARK + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
