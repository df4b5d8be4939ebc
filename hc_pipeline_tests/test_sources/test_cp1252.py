"""A CSV saved as Windows-1252 streams as the whole-file reader decodes it, or is handed over to it."""

import io

import pandas as pd
import pyarrow.parquet as pq
import pytest

from hc_pipeline.sources import patients_csv
from hc_pipeline.sources.cp1252 import from_cp1252
from hc_pipeline.sources.errors import NotStreamable, UnreadableFile
from hc_pipeline_tests.conftest import process
from hc_pipeline_tests.test_sources.test_streamed_csv import BAD_INPUTS, GOOD

NAME = "patients/windows.csv"
# Accented names and the euro sign: bytes 0xE9 and 0x80, neither of which starts UTF-8 text.
WINDOWS = GOOD.replace("Flu, type 1", "Grippe \u20ac1, Jos\u00e9").encode("cp1252")
RAGGED = WINDOWS + b"P999,40,M\n" + WINDOWS.split(b"\n", 1)[1]
READERS = {"pyarrow": patients_csv.stream_admissions, "records": patients_csv.stream_records}


def streamed(
    data: bytes, reader: str, block_bytes: int, head_bytes: int = 128, name: str = NAME
) -> pd.DataFrame | None:
    """The joined batches (the reader's blocks of `block_bytes`, the first `head_bytes` telling the encoding), or None
    when the file is handed over."""
    read = READERS[reader]
    stream = from_cp1252(lambda handle, name: read(handle, name, block_bytes), head_bytes)
    try:
        return pd.concat(list(stream(io.BytesIO(data), name)), ignore_index=True)
    except NotStreamable:
        return None


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("block_bytes", [96, 1000, 1 << 20])
def test_a_windows_file_streams_to_the_whole_file_readers_rows(reader, block_bytes):
    whole = patients_csv.read_whole(WINDOWS, NAME)
    assert "Grippe €1, José" in set(whole["diagnosis"])
    pd.testing.assert_frame_equal(streamed(WINDOWS, reader, block_bytes), whole)


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("block_bytes", [96, 1000])
def test_a_ragged_windows_file_streams_with_its_ragged_record_padded(reader, block_bytes):
    whole = patients_csv.read_whole(RAGGED, NAME)
    assert whole["parse_error"].notna().sum() == 1
    pd.testing.assert_frame_equal(streamed(RAGGED, reader, block_bytes), whole)


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("head_bytes", [128, 1000, 1 << 20])
def test_a_windows_file_that_starts_as_utf8_streams_from_a_copy_of_it(reader, head_bytes):
    # UTF-8 up to its last line: the rest is checked as it is copied, then the copy is read as Windows-1252.
    data = GOOD.replace("Flu, type 1", "Grippe \u00e9").encode() + "P9,40,M,2024-01-01,,Jos\u00e9\n".encode("cp1252")
    whole = patients_csv.read_whole(data, NAME)
    assert "Grippe Ã©" in set(whole["diagnosis"]) and "José" in set(whole["diagnosis"])
    pd.testing.assert_frame_equal(streamed(data, reader, 1000, head_bytes=head_bytes), whole)


@pytest.mark.parametrize(
    "data",
    [
        GOOD.encode(),  # UTF-8
        GOOD.replace("Flu", "Gripp\u00e9").encode(),  # UTF-8 beyond ASCII, to its end
        WINDOWS + b"P9,40,M,2024-01-01,,x\x81y\n",  # a byte Windows-1252 leaves undefined: read whole as Latin-1
    ],
)
@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("head_bytes", [128, 1000])
def test_what_is_not_windows_1252_throughout_is_handed_over(data, reader, head_bytes):
    assert streamed(data, reader, 1000, head_bytes=head_bytes) is None


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_bad_input_streams_to_the_whole_file_readers_rows_or_is_handed_over(name, reader):
    data = BAD_INPUTS[name]
    try:
        whole = patients_csv.read_whole(data, name)
    except UnreadableFile:
        whole = None
    joined = streamed(data, reader, 128, name=name)
    assert (joined is not None) == (name == "latin1.csv")  # the only one not UTF-8 from its start
    if joined is not None:
        assert whole is not None, f"{name} streamed although the whole-file reader refuses it"
        pd.testing.assert_frame_equal(joined, whole)


def test_a_landed_windows_file_is_read_and_curated_in_batches(monkeypatch, defs, instance, land, home):
    monkeypatch.setattr(patients_csv, "BLOCK_BYTES", 1000)
    land(NAME, WINDOWS)
    assert process(defs, instance).processed["patients"]
    (raw,) = (home / "lake" / "patients" / "raw_records").glob("*.parquet")
    assert pq.ParquetFile(raw).num_row_groups > 3
    pd.testing.assert_frame_equal(
        pq.read_table(raw).to_pandas(types_mapper={}.get).astype(str),
        patients_csv.read_whole(WINDOWS, NAME).astype(str),
    )
