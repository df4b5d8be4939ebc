"""Issue 15 item 2: the cross-row rules through the file-wide state against the whole-file rules they replace.

On the 1M-row file: mask differences for every rule (whole file, 3 uneven batches, 100,000-row batches) and
the cost of duplicate_row, duplicate_stay and los_outlier, before and now (medians).
"""

import os
import statistics
import time
from itertools import pairwise

import pandas as pd

from bench.inputs import RUN_DATE, patients_csv
from bench.report import Figures

CROSS_ROW = ("duplicate_row", "duplicate_stay", "los_outlier")


def _differences(a: pd.DataFrame, b: pd.DataFrame) -> int:
    return int((a.to_numpy() != b.to_numpy()).sum())


def _in_batches(raw: pd.DataFrame, cuts: list[int]) -> pd.DataFrame:
    from hc_pipeline.curation.patients import masks_in_batches

    parts = [raw.iloc[a:b] for a, b in pairwise(cuts)]
    return pd.concat(list(masks_in_batches(lambda: iter(parts), RUN_DATE)))


def _median_seconds(repeat: int, call) -> float:
    laps = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        laps.append(time.perf_counter() - start)
    return statistics.median(laps)


def run(opts) -> Figures:
    from hc_pipeline.curation.patients import stage, staging_for
    from hc_pipeline.curation.rules import evaluate, first_pass
    from hc_pipeline.schemas.patients import RULE_GROUPS, RULES
    from hc_pipeline.sources.patients_csv import read_admissions
    from hc_pipeline_tests.test_curation.reference_rules import reference_groups

    figures, start_load = Figures("cross_row_state"), os.getloadavg()
    csv = patients_csv(opts.rows)
    raw = read_admissions(csv.read_bytes(), f"patients/{csv.name}")
    staged, staging = stage(raw), staging_for(raw, RUN_DATE)
    before = evaluate(staged, staging, reference_groups(RULE_GROUPS))
    now = evaluate(staged, staging, RULE_GROUPS)
    n = len(raw)
    figures.add("crs_rows", n, "rows", "admission rows in the one CSV (the P1 file)")
    figures.add("crs_flagged_cross_row", int(before[list(CROSS_ROW)].to_numpy().sum()), "rows", "cross-row findings")
    figures.add("crs_diff_whole", _differences(before, now), "masks", "differences, every rule: whole file")
    uneven = _in_batches(raw, [0, n // 7, n // 2 + 3, n])
    figures.add("crs_diff_3_batches", _differences(before, uneven), "masks", "differences: 3 uneven batches")
    even = _in_batches(raw, [*range(0, n, 100_000), n])
    figures.add("crs_diff_100k_batches", _differences(before, even), "masks", "differences: 100,000-row batches")

    first = first_pass(staged, staging, RULE_GROUPS)
    reference = {r.id: r for group in reference_groups(RULE_GROUPS) for r in group.rules}
    for rule in CROSS_ROW:
        frame = staged if rule == "duplicate_row" else first
        old = _median_seconds(opts.repeat, lambda rule=rule, frame=frame: reference[rule].passes(frame, staging))
        new = _median_seconds(opts.repeat, lambda rule=rule, frame=frame: RULES[rule].passes(frame, staging))
        figures.add(f"crs_{rule}_before_s", old, "s", f"{rule} on the whole file, whole-file rule (median)")
        figures.add(f"crs_{rule}_now_s", new, "s", f"{rule} on the whole file, through the file-wide state")
    figures.note(f"load average {start_load[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end (2 shared cores)")
    return figures
