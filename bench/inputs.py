"""Deterministic benchmark inputs, generated once and cached under bench/cache/ (git-ignored)."""

import datetime as dt
import hashlib
import inspect
import os
import shutil
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / "cache"
RUN_DATE = dt.date(2025, 6, 30)  # fixed, so cached files and `future_admission` agree across days
SEED = 7
DEFECT_RATE = 0.05


def _generator_version() -> str:
    """A short hash of the generator's source: a changed generator means new inputs."""
    from hc_pipeline.generate import facilities, patients

    source = inspect.getsource(patients) + inspect.getsource(facilities)
    return hashlib.sha1(source.encode()).hexdigest()[:8]


def _cached(name: str, build) -> Path:
    """`bench/cache/<name>-<generator version>/`, built by `build(folder)` into a temporary folder first."""
    folder = CACHE / f"{name}-{_generator_version()}"
    if (folder / ".complete").exists():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    build(partial)
    (partial / ".complete").write_text(dt.datetime.now(dt.UTC).isoformat())
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)
    return folder


def _write_patients(folder: Path, rows: int, files: int) -> None:
    from hc_pipeline.generate.patients import build_patient_files

    # The writer's stream for patients ([seed, 0]), so these are the files `hc-pipeline generate` would write.
    rng = np.random.default_rng([SEED, 0])
    for p in build_patient_files(rng, rows, files, DEFECT_RATE, RUN_DATE):
        p.frame.to_csv(folder / p.name, index=False, lineterminator="\n", encoding="utf-8")


def patients_csv(rows: int) -> Path:
    """One admissions CSV of `rows` rows (the plain style: snake_case header, 15% US dates)."""
    folder = _cached(f"patients_{rows}", lambda f: _write_patients(f, rows, 1))
    return next(folder.glob("*.csv"))


def _write_copies(folder: Path, source: Path, copies: int) -> None:
    """`source` `copies` times over, header once, each copy's patient ids made its own (P123 -> P2-123)."""
    with (folder / f"admissions_{copies}x.csv").open("wb") as out:
        for copy in range(copies):
            with source.open("rb") as rows:
                header = rows.readline()
                out.write(header if copy == 0 else b"")
                while lines := rows.readlines(64 << 20):
                    chunk = b"".join(lines)
                    out.write((b"\n" + chunk).replace(b"\nP", b"\nP%d-" % copy)[1:] if copy else chunk)


def patients_csv_copies(rows: int, copies: int) -> Path:
    """`patients_csv(rows)` `copies` times in one file: 50M rows from the 10M file in a minute, not an hour."""
    source = patients_csv(rows)
    folder = _cached(f"patients_{rows}x{copies}", lambda f: _write_copies(f, source, copies))
    return next(folder.glob("*.csv"))


def small_patient_files(files: int = 200, rows_each: int = 100) -> list[Path]:
    """`files` admissions CSVs of `rows_each` rows, in the generator's three header/date styles."""
    folder = _cached(f"patients_small_{files}x{rows_each}", lambda f: _write_patients(f, files * rows_each, files))
    return sorted(folder.glob("*.csv"))


def _write_facilities(folder: Path, records: int, files: int) -> None:
    from hc_pipeline.generate.facilities import build_facility_files

    rng = np.random.default_rng([SEED, 1])
    for f in build_facility_files(rng, records, files, DEFECT_RATE, RUN_DATE):
        (folder / f.name).write_bytes((("\ufeff" if f.bom else "") + f.text).encode("utf-8"))


def facility_files(records: int = 99_999, files: int = 4) -> list[Path]:
    """Facilities JSON in all four containers (object, array, NDJSON, wrapper), both record variants."""
    folder = _cached(f"facilities_{records}x{files}", lambda f: _write_facilities(f, records, files))
    return sorted(p for p in folder.iterdir() if p.suffix in (".json", ".ndjson"))
