"""`hc-pipeline run` ends an operator-facing failure with one line on stderr, not a traceback, and loses no file."""

import errno
import io

import dagster as dg
import pytest
from upath import UPath

from hc_pipeline import cli
from hc_pipeline.definitions import make_definitions
from hc_pipeline.resources.query_engine import DuckDBQueryEngine
from hc_pipeline.runner import instance_for

CSV = b"patient_id,age,gender,admission_date,discharge_date,diagnosis\nP1,40,M,2024-01-01,2024-01-03,Flu\n"


@pytest.fixture
def run_cli(home, resources, monkeypatch, capsys):
    """`hc-pipeline run` in this process on the test's resources: (exit code, stdout, stderr)."""
    monkeypatch.setattr(cli, "_defs", lambda: make_definitions(resources))

    def run() -> tuple[int, str, str]:
        code = cli.main(["run", "--as-of", "2025-06-30"])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def successful_runs(home) -> dict[str, int]:
    """Successful per-file runs by landed key."""
    counts: dict[str, int] = {}
    for run in instance_for(home).get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS])):
        if "hc/object_key" in run.tags:
            counts[run.tags["hc/object_key"]] = counts.get(run.tags["hc/object_key"], 0) + 1
    return counts


class FillsUp(io.RawIOBase):
    """A file being written on a disk that fills up: half of its first write lands, then ENOSPC."""

    def __init__(self, handle, path: str):
        self._handle, self._path = handle, path

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._handle.write(bytes(data)[: max(len(data) // 2, 1)])
        raise OSError(errno.ENOSPC, "No space left on device", self._path)

    def tell(self) -> int:
        return self._handle.tell()

    def close(self) -> None:
        self._handle.close()
        super().close()


def fill_the_disk_on(folder: str, monkeypatch) -> list[str]:
    """Files written under `folder` get half their first bytes on disk, then ENOSPC, as on a full disk."""
    failed = []
    upath = type(UPath("/"))
    open_ = upath.open

    def open_then_full(path, mode="r", *args, **kwargs):
        handle = open_(path, mode, *args, **kwargs)
        if "w" not in mode or f"/{folder}/" not in str(path):
            return handle
        failed.append(str(path))
        return FillsUp(handle, str(path))

    monkeypatch.setattr(upath, "open", open_then_full)
    return failed


def test_a_full_disk_stops_the_run_with_one_line_and_leaves_no_partial_file(home, land, run_cli, monkeypatch):
    land("patients/a.csv", CSV)
    land("patients/b.csv", CSV.replace(b"P1", b"P2"))
    with monkeypatch.context() as patch:
        failed = fill_the_disk_on("lake/patients/curated_records", patch)
        code, out, err = run_cli()

    assert failed and failed[0].endswith(".partial")  # the write did start on disk
    assert code == 4
    [line] = err.splitlines()
    assert "Traceback" not in err
    assert line.startswith(f"hc-pipeline run: {home}/lake/patients/curated_records/")
    assert line.endswith(".parquet: disk full; free space there, then run again; files not yet processed stay pending")
    assert not [p for p in home.rglob("*") if p.name.endswith(".partial")]
    assert not list((home / "lake" / "patients" / "curated_records").glob("*.parquet"))
    assert successful_runs(home) == {}  # b.csv was not attempted: the disk is full for it too

    code, out, err = run_cli()  # space freed: both files are processed, once
    assert (code, err) == (0, "") and "patients: processed 2 new file(s)" in out
    assert successful_runs(home) == {"patients/a.csv": 1, "patients/b.csv": 1}


def test_a_report_refresh_that_fails_names_the_domain_reports_and_the_error(home, land, run_cli, monkeypatch):
    land("patients/a.csv", CSV)
    with monkeypatch.context() as patch:
        patch.setattr(DuckDBQueryEngine, "query", lambda self, sql: (_ for _ in ()).throw(RuntimeError("lake view x")))
        code, out, err = run_cli()

    assert code == 1 and "Traceback" not in err
    [line] = err.splitlines()
    assert line.startswith("patients reports not refreshed, the next run rebuilds them: patients__")
    assert line.endswith("RuntimeError: lake view x")
    assert "patients: processed 1 new file(s)" in out and "reports refreshed" not in out

    code, out, err = run_cli()  # nothing new landed, but the stale reports are rebuilt
    assert (code, err) == (0, "")
    assert "reports refreshed: patients/readmissions" in out
