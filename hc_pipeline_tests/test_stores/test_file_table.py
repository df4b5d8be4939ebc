"""A per-file table is written a row group per frame, the next frame made while the last one is encoded."""

import threading

import pandas as pd
import pyarrow.parquet as pq
import pytest
from upath import UPath

from hc_pipeline.stores import file_table
from hc_pipeline.stores.file_table import write_table


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"row": range(n * 10, n * 10 + 10), "text": pd.array([f"r{n}"] * 10, dtype="string[pyarrow]")})


def test_each_frame_is_a_row_group_in_order(tmp_path):
    written = write_table(UPath(tmp_path / "t.parquet"), (frame(n) for n in range(7)))
    parquet = pq.ParquetFile(tmp_path / "t.parquet")
    assert written.num_rows == 70 and parquet.num_row_groups == 7
    assert parquet.read().column("row").to_pylist() == list(range(70))


def test_the_next_frame_is_made_while_the_last_is_written_and_never_two_ahead(tmp_path, monkeypatch):
    asked, finished = threading.Event(), []
    original = file_table.pq.ParquetWriter.write_table

    def slow_write(self, table, *args, **kwargs):
        if not finished:  # the first row group waits until the second frame is asked for
            assert asked.wait(10), "the second frame was not made while the first was written"
        original(self, table, *args, **kwargs)
        finished.append(table.num_rows)

    def frames():
        yield frame(0)
        asked.set()
        yield frame(1)
        assert len(finished) >= 1  # the third frame only once the first row group is done
        yield frame(2)

    monkeypatch.setattr(file_table.pq.ParquetWriter, "write_table", slow_write)
    assert write_table(UPath(tmp_path / "t.parquet"), frames()).num_rows == 30


def test_a_failing_frame_source_leaves_no_file(tmp_path):
    def frames():
        yield frame(0)
        yield frame(1)
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        write_table(UPath(tmp_path / "t.parquet"), frames())
    assert list(tmp_path.iterdir()) == []


def test_a_failing_write_is_raised_and_leaves_no_file(tmp_path, monkeypatch):
    original, calls = file_table.pq.ParquetWriter.write_table, []

    def failing(self, table, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        original(self, table, *args, **kwargs)

    monkeypatch.setattr(file_table.pq.ParquetWriter, "write_table", failing)
    with pytest.raises(OSError, match="disk full"):
        write_table(UPath(tmp_path / "t.parquet"), (frame(n) for n in range(5)))
    assert list(tmp_path.iterdir()) == []
