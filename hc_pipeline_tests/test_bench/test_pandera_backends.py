"""The backend spike's ports must judge rows exactly as today's pandas rules do (counts only, no timings)."""

import importlib.util

import numpy as np
import pytest

from bench import pandera_backends
from bench.child import Meter
from bench.inputs import DEFECT_RATE, RUN_DATE
from hc_pipeline.generate.patients import build_patient_files


def spike_extra(package: str):
    """polars and ibis come with `pip install -e '.[dev,spike]'`, not with `make test`."""
    return pytest.mark.skipif(importlib.util.find_spec(package) is None, reason=f"{package}: the spike extra")


@pytest.fixture(scope="module")
def admissions_csv(tmp_path_factory):
    """20,000 generated admissions with every defect kind, in one plain CSV."""
    (generated,) = build_patient_files(np.random.default_rng(3), 20_000, 1, DEFECT_RATE, RUN_DATE)
    path = tmp_path_factory.mktemp("spike") / generated.name
    generated.frame.to_csv(path, index=False, lineterminator="\n")
    return str(path)


@pytest.fixture(scope="module")
def today(admissions_csv):
    counts = pandera_backends.pandas_whole(Meter(), admissions_csv)["counts_per_rule"]
    assert all(counts[rule] > 0 for rule in ("duplicate_row", "duplicate_stay", "los_outlier"))
    return counts


@pytest.mark.parametrize(
    "piece, kwargs, rules",
    [
        ("pandas_whole", {"via": "pandera"}, 18),
        ("pandas_batches", {"rows": 3_000}, 15),
        ("pandas_batches", {"rows": 3_000, "via": "pandera"}, 15),
        pytest.param("polars_backend", {}, 18, marks=spike_extra("polars")),
        pytest.param("ibis_backend", {}, 17, marks=spike_extra("ibis")),
    ],
)
def test_each_backend_counts_the_same_failing_rows_per_rule_as_today(admissions_csv, today, piece, kwargs, rules):
    counts = getattr(pandera_backends, piece)(Meter(), admissions_csv, **kwargs)["counts_per_rule"]
    assert len(counts) == rules
    assert counts == {rule: today[rule] for rule in counts}
