"""The file-wide state flags exactly the rows the whole-file rules flagged, whole or fed in batches."""

import contextvars
import datetime as dt
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from hc_pipeline.curation import facilities as facility_curation
from hc_pipeline.curation import patients as patient_curation
from hc_pipeline.curation.rules import evaluate
from hc_pipeline.generate.writer import generate
from hc_pipeline.schemas import facilities, patients
from hc_pipeline.schemas.file_state import FileState, FirstSeen, LosHistograms
from hc_pipeline.schemas.rules import Staging
from hc_pipeline.sources.facilities_json import read_facilities
from hc_pipeline.sources.patients_csv import read_admissions
from hc_pipeline.sources.synthea_zip import is_synthea_zip, read_synthea_zip
from hc_pipeline_tests.test_assets.test_patients_bad_inputs import ROW_LEVEL
from hc_pipeline_tests.test_curation.reference_rules import reference_groups
from hc_pipeline_tests.test_curation.test_rules import CSV, JSON

RUN_DATE = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The ground-truth corpus as the pipeline tests generate it."""
    out = tmp_path_factory.mktemp("samples")
    generate(out, patients=12_000, facilities=200, defect_rate=0.05, seed=11, run_date=RUN_DATE, synthea_patients=150)
    return out


def _raw(data: bytes, name: str) -> pd.DataFrame:
    return read_synthea_zip(data, name) if is_synthea_zip(data) else read_admissions(data, name)


def _stays_and_copies(rows: int = 2_000, seed: int = 3) -> bytes:
    """Few patients, diagnoses and lengths of stay: ties, zero MADs, even groups, copies across batch cuts."""
    rng = np.random.default_rng(seed)
    admitted = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 40, rows), unit="D")
    los = np.where(rng.random(rows) < 0.03, rng.integers(30, 90, rows), rng.choice([1, 2, 2, 3, 3, 3, 4], rows))
    frame = pd.DataFrame(
        {
            "patient_id": np.where(rng.random(rows) < 0.02, "", [f"P{i}" for i in rng.integers(0, 300, rows)]),
            "age": rng.integers(-2, 125, rows).astype(str),
            "gender": rng.choice(["M", "F", "x"], rows),
            "admission_date": admitted.strftime("%Y-%m-%d"),
            "discharge_date": (admitted + pd.to_timedelta(los, unit="D")).strftime("%Y-%m-%d"),
            "diagnosis": rng.choice(["Flu", "Asthma", "Sepsis", "", "Rare"], rows, p=[0.4, 0.3, 0.2, 0.05, 0.05]),
        }
    )
    frame.loc[rng.random(rows) < 0.2, "diagnosis"] = "Same"  # one group of equal stays: the MAD is 0
    copies = frame.sample(frac=0.1, random_state=seed)
    return pd.concat([frame, copies]).to_csv(index=False).encode()


def _patient_files(generated) -> dict[str, pd.DataFrame]:
    files = {f"generated/{p.name}": _raw(p.read_bytes(), p.name) for p in sorted((generated / "patients").iterdir())}
    files |= {f"bad_inputs/{name}": read_admissions(data, name) for name, data in ROW_LEVEL.items()}
    files |= {"rules_sample.csv": read_admissions(CSV, "a.csv"), "stays.csv": read_admissions(_stays_and_copies(), "s")}
    return files


def _batches(raw: pd.DataFrame) -> list[pd.DataFrame]:
    """Three uneven batches in file order."""
    cuts = [0, len(raw) // 7, len(raw) // 2 + 3, len(raw)]
    return [raw.iloc[a:b] for a, b in pairwise(cuts) if b > a]


def test_patient_masks_equal_the_whole_file_rules_on_every_corpus(generated):
    for name, raw in _patient_files(generated).items():
        staged = patient_curation.stage(raw)
        staging = patient_curation.staging_for(raw, RUN_DATE)
        before = evaluate(staged, staging, reference_groups(patients.RULE_GROUPS))
        now = evaluate(staged, staging, patients.RULE_GROUPS)
        assert (before != now).to_numpy().sum() == 0, name


def test_patient_masks_fed_in_batches_equal_the_whole_file_masks(generated):
    flagged = set()
    for name, raw in _patient_files(generated).items():
        whole = evaluate(patient_curation.stage(raw), patient_curation.staging_for(raw, RUN_DATE), patients.RULE_GROUPS)
        parts = _batches(raw)
        batched = pd.concat(list(patient_curation.masks_in_batches(lambda parts=parts: iter(parts), RUN_DATE)))
        assert (batched.to_numpy() != whole.to_numpy()).sum() == 0, name
        flagged |= {rule for rule in ("duplicate_row", "duplicate_stay", "los_outlier") if whole[rule].any()}
    assert flagged == {"duplicate_row", "duplicate_stay", "los_outlier"}


def test_facility_masks_equal_the_whole_file_rules_whole_or_in_batches(generated):
    files = {p.name: p.read_bytes() for p in sorted((generated / "facilities").iterdir())} | {"rules_sample": JSON}
    duplicates = 0
    for name, data in files.items():
        staged = facility_curation.stage(read_facilities(data, name), known_ids={"F1"})
        before = evaluate(staged, Staging(RUN_DATE), reference_groups(facilities.RULE_GROUPS))
        now = evaluate(staged, Staging(RUN_DATE), facilities.RULE_GROUPS)
        assert (before != now).to_numpy().sum() == 0, name
        # Every facility rule is first-pass: batches need only share the state.
        staging = Staging(RUN_DATE, file=FileState())
        batched = pd.concat([evaluate(part, staging, facilities.RULE_GROUPS) for part in _batches(staged)])
        assert (batched.to_numpy() != now.to_numpy()).sum() == 0, name
        duplicates += now["duplicate_facility"].sum()
    assert duplicates


def test_a_batch_judged_again_gets_the_same_answer():
    seen = FirstSeen()
    first = seen.repeated_keys(np.array([5, 7, 5], dtype=np.uint64), np.array([1, 2, 3]))
    second = seen.repeated_keys(np.array([7, 9, 9], dtype=np.uint64), np.array([4, 5, 6]))
    assert first.tolist() == [False, False, True] and second.tolist() == [True, False, True]
    assert seen.repeated_keys(np.array([5, 7, 5], dtype=np.uint64), np.array([1, 2, 3])).tolist() == first.tolist()


def test_histograms_give_pandas_median_and_mean_deviation():
    los = np.array([1, 2, 2, 3, 8, 1, 1, 1, 1], dtype=float)
    groups = np.array(["a"] * 5 + ["b"] * 4, dtype=object)
    stats = LosHistograms().add(groups, los).stats()
    assert stats.loc["a", "median"] == 2 and stats.loc["b", "median"] == 1
    assert stats.loc["a", "scale"] == 1 / 0.6745 and stats.loc["b", "scale"] == 0


def test_row_hashes_within_one_block_share_its_duckdb_which_closes_with_it():
    import duckdb

    from hc_pipeline.schemas import file_state

    rows = pd.DataFrame({"a": ["x", None, "x", ""], "b": [1, 2, 1, 2]})
    alone = file_state.hash_rows(rows, ["a", "b"])
    assert alone[0] == alone[2] and len(set(alone[[0, 1, 3]])) == 3  # equal rows alike, null apart from ""
    with file_state.row_hashing() as shared:
        with file_state.row_hashing() as inner:  # an inner block reuses the outer one's
            assert inner is shared
        assert (file_state.hash_rows(rows, ["a", "b"]) == alone).all()
        copied = contextvars.copy_context()  # as s3fs's event loop copies its callers' contexts
    assert file_state._HASHING.get() is None
    with pytest.raises(duckdb.ConnectionException):
        shared.execute("select 1")
    # A copy made within the block holds no connection once the block ended: it hashes on a connection of its own.
    assert (copied.run(file_state.hash_rows, rows, ["a", "b"]) == alone).all()
    assert copied.run(file_state._HASHING.get).con is None


def test_copies_counted_as_stays_before_they_were_known_come_back_out_of_the_los_groups():
    header = "patient_id,age,gender,admission_date,discharge_date,diagnosis\n"
    usual = "".join(f"P{i},40,F,2024-01-01,2024-01-03,Gout\n" for i in range(30))
    long_stay = "Q1,40,F,2024-01-01,2024-02-10,Gout\n"
    raw = read_admissions((header + usual + long_stay * 41).encode(), "copies.csv")
    whole = evaluate(patient_curation.stage(raw), patient_curation.staging_for(raw, RUN_DATE), patients.RULE_GROUPS)
    # Counted 41 times, the long stay would be the group's median and no stay an outlier; counted once, it is one.
    assert whole["los_outlier"].tolist() == [False] * 30 + [True] + [False] * 40
    parts = [raw.iloc[:31], raw.iloc[31:50], raw.iloc[50:]]
    batched = pd.concat(list(patient_curation.masks_in_batches(lambda: iter(parts), RUN_DATE)))
    assert (batched.to_numpy() != whole.to_numpy()).sum() == 0


def test_after_the_counting_sweep_only_rows_whose_key_repeats_are_remembered():
    header = "patient_id,age,gender,admission_date,discharge_date,diagnosis\n"
    rows = [f"P{i},40,F,2024-01-{1 + i % 28:02d},2024-02-10,Gout\n" for i in range(300)]
    raw = read_admissions((header + "".join(rows) + "".join(rows[10:15])).encode(), "copies.csv")
    parts = _batches(raw)
    staging = patient_curation.file_staging(lambda: iter(parts), RUN_DATE)
    masks = pd.concat([evaluate(patient_curation.stage(part), staging, patients.RULE_GROUPS) for part in parts])
    assert np.flatnonzero(masks["duplicate_row"]).tolist() == list(range(300, 305))
    # Of 305 rows, the judging sweep keeps the five keys that repeat, not one per row.
    assert len(staging.file.first_seen["duplicate_row"]) == 5
    assert len(staging.file.first_seen["duplicate_stay"]) == 5
