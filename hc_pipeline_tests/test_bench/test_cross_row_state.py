"""The cross-row bench reports no mask difference between the file-wide state and the whole-file rules."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from bench import cross_row_state
from bench.inputs import DEFECT_RATE, RUN_DATE
from hc_pipeline.generate.patients import build_patient_files


def test_the_bench_finds_no_difference_whole_or_in_batches(tmp_path, monkeypatch):
    (generated,) = build_patient_files(np.random.default_rng(5), 20_000, 1, DEFECT_RATE, RUN_DATE)
    path = tmp_path / generated.name
    generated.frame.to_csv(path, index=False, lineterminator="\n")
    monkeypatch.setattr(cross_row_state, "patients_csv", lambda rows: Path(path))
    figures = cross_row_state.run(SimpleNamespace(rows=20_000, repeat=1))
    values = {entry["name"]: entry["value"] for entry in figures.entries}
    assert values["crs_flagged_cross_row"] > 0
    assert values["crs_diff_whole"] == values["crs_diff_3_batches"] == values["crs_diff_100k_batches"] == 0
