"""The streaming CSV reader gives the whole-file reader's rows batch by batch, or hands the file over to it."""

import io
import random

import pandas as pd
import pytest

from hc_pipeline.assets.patients import stream_patients_file
from hc_pipeline.sources import patients_csv, skipped_records
from hc_pipeline.sources.errors import NotStreamable, UnreadableFile
from hc_pipeline_tests.test_assets.test_patients_bad_inputs import ROW_LEVEL, WHOLE_FILE

GOOD = "patient_id,age,gender,admission_date,discharge_date,diagnosis\n" + "".join(
    f'P{i},{20 + i % 60},{"MF"[i % 2]},2024-01-{1 + i % 28:02d},2024-02-{1 + i % 28:02d},"Flu, type {i % 3}"\n'
    for i in range(1, 400)
)


def streamed(data: bytes, block_bytes: int, name: str = "patients/a.csv") -> list[pd.DataFrame]:
    return list(patients_csv.stream_admissions(io.BytesIO(data), name, block_bytes))


@pytest.mark.parametrize("block_bytes", [96, 1000, 1 << 20])
def test_a_clean_file_streams_in_batches_that_join_to_the_whole_files_rows(block_bytes):
    data = GOOD.encode()
    batches = streamed(data, block_bytes)
    assert (len(batches) == 1) == (block_bytes > len(data)) and all(len(b) for b in batches)
    joined = pd.concat(batches, ignore_index=True)
    pd.testing.assert_frame_equal(joined, patients_csv.read_whole(data, "patients/a.csv"))
    assert joined["source_row"].tolist() == list(range(1, 400))


BAD_INPUTS = {**ROW_LEVEL, **{name: data for name, (data, _) in WHOLE_FILE.items()}}
# UTF-8 CSVs, whatever is wrong with their rows (ragged records too); every other input is read whole.
STREAMABLE = {"all_bad_rows.csv", "bom_crlf.csv", "duplicates.csv", "implausible.csv", "quoted_multiline.csv"}
STREAMABLE |= {"ragged.csv", "reordered_extra.csv", "spellings.csv"}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
@pytest.mark.parametrize("block_bytes", [128, 4096])
def test_every_bad_input_streams_to_the_same_rows_or_goes_to_the_whole_file_reader(name, block_bytes):
    data = BAD_INPUTS[name]
    try:
        whole = patients_csv.read_whole(data, name)
    except UnreadableFile as unreadable:
        whole = unreadable
    try:
        batches = streamed(data, block_bytes, name)
    except NotStreamable:
        batches = None
    assert (batches is not None) == (name in STREAMABLE)
    if batches is not None:
        assert not isinstance(whole, UnreadableFile), f"{name} streamed although it is unreadable: {whole}"
        pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), whole)
    # What users get, whichever reader read it: the whole-file reader's rows or its reason.
    try:
        assert patients_csv.read_admissions(data, name).equals(whole)
    except UnreadableFile as unreadable:
        assert str(unreadable) == str(whole)


@pytest.mark.parametrize("block_bytes", [256, 4096, 1 << 20])
def test_ragged_records_stream_padded_or_cut_where_they_stand(block_bytes):
    body = GOOD.split("\n", 1)[1]
    data = (GOOD + "P999,40,M\n" + body + 'P1000,41,F,2024-01-01,2024-01-02,"Flu",x,"y\nz"\r\n   \n' + body).encode()
    batches = streamed(data, block_bytes)
    assert len(batches) > 1 or block_bytes > len(data)
    joined = pd.concat(batches, ignore_index=True)
    pd.testing.assert_frame_equal(joined, patients_csv.read_whole(data, "patients/a.csv"))
    assert joined["source_row"].tolist() == list(range(1, 3 * 399 + 3))
    assert joined.loc[joined["parse_error"].notna(), "source_row"].tolist() == [400, 800]


def records(data: bytes, block_bytes: int, name: str = "patients/a.csv") -> list[pd.DataFrame] | str | None:
    """What `stream_records` yields, the reason it refuses the file for, or None when it hands the file over."""
    try:
        return list(patients_csv.stream_records(io.BytesIO(data), name, block_bytes))
    except NotStreamable:
        return None
    except UnreadableFile as unreadable:
        return str(unreadable)


def whole_file(data: bytes, name: str = "patients/a.csv") -> pd.DataFrame | str:
    """The whole-file reader's rows, or the reason it refuses the file for."""
    try:
        return patients_csv.read_whole(data, name)
    except UnreadableFile as unreadable:
        return str(unreadable)


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
@pytest.mark.parametrize("block_bytes", [128, 4096, 1 << 20])
def test_the_record_reader_gives_the_whole_file_readers_rows_or_reason_or_hands_the_file_over(
    name, block_bytes, monkeypatch
):
    monkeypatch.setattr(patients_csv, "RECORD_BATCH", 3)
    data = BAD_INPUTS[name]
    whole, streamed_ = whole_file(data, name), records(data, block_bytes, name)
    if isinstance(streamed_, list):
        assert not isinstance(whole, str), f"{name} streamed although the whole-file reader refuses it: {whole}"
        pd.testing.assert_frame_equal(pd.concat(streamed_, ignore_index=True), whole)
    elif isinstance(streamed_, str):
        assert streamed_ == whole


def test_a_ragged_file_streams_through_the_record_reader_with_the_whole_file_readers_rows(monkeypatch):
    monkeypatch.setattr(patients_csv, "RECORD_BATCH", 100)
    body = GOOD.split("\n", 1)[1]
    data = ("\ufeff" + GOOD + "P999,40,M\n" + body + 'P1000,41,F,2024-01-01,2024-01-02,"Flu",x,y\r\n' + body).encode()
    batches = records(data, 256)
    assert batches is not None and len(batches) == 12
    joined = pd.concat(batches, ignore_index=True)
    pd.testing.assert_frame_equal(joined, patients_csv.read_whole(data, "patients/a.csv"))
    assert joined["parse_error"].notna().sum() == 2 and joined["source_row"].tolist() == list(range(1, 3 * 399 + 3))


@pytest.mark.parametrize(
    "data",
    [
        "é".encode("latin-1") + GOOD.encode(),  # another encoding: read whole, as cp1252
        (GOOD + "P9,40,M\n").encode() + b"\x00\x01",  # binary after the start
        GOOD.replace("\n", "\n\x01\x02\x03\x04\x05\x06\x07", 300).encode(),  # control characters past the first block
        b"patient_id;age\n" + b"P1;40\n" * 20_000 + b"\x00",  # no required columns, but binary further on
        b"patient_id;age\n" + b"P1;40\n" * 20_000 + "é".encode("latin-1"),  # ... or another encoding further on
        b" \n\n",  # nothing but blanks: the whole-file reader says the file is empty
    ],
)
def test_the_record_reader_hands_over_what_the_whole_file_reader_reads_otherwise_or_calls_binary(data):
    assert records(data, 64) is None and records(data, 1 << 20) is None


@pytest.mark.parametrize(
    "data",
    [
        (GOOD + 'P9,40,M,"open quote\n').encode(),
        (GOOD + 'P9,40,M,"open quote\n' + "x" * 300_000 + "\n").encode(),  # past csv's field limit
        b"patient_id;age;gender;admission_date;discharge_date;diagnosis\n" + b"P1;40;M;2024-01-01;;Flu\n" * 500,
        b"patient_id,age\nP1,40\n",
        GOOD.split("\n", 1)[0].encode() + b"\n \n",  # header only
    ],
)
@pytest.mark.parametrize("block_bytes", [64, 1 << 20])
def test_the_record_reader_refuses_a_text_file_as_the_whole_file_reader_does(data, block_bytes):
    reason = records(data, block_bytes)
    assert isinstance(reason, str) and reason == whole_file(data)


@pytest.mark.parametrize("block_bytes", [256, 4096])
def test_a_file_of_ragged_records_only_streams_batch_by_batch(block_bytes):
    header, body = GOOD.split("\n", 1)
    data = (header + "\n" + body.replace("\n", ",extra\n")).encode()
    batches = streamed(data, block_bytes)
    joined = pd.concat(batches, ignore_index=True)
    pd.testing.assert_frame_equal(joined, patients_csv.read_whole(data, "patients/a.csv"))
    assert joined["parse_error"].eq("record has 7 fields, header has 6").all() and len(joined) == 399
    assert len(batches) >= len(data) // block_bytes - 1


def test_a_file_mostly_of_ragged_records_goes_to_the_record_reader(monkeypatch):
    monkeypatch.setattr(skipped_records, "MANY_RAGGED", 100)
    header, body = GOOD.split("\n", 1)
    data = (header + "\n" + body.replace("\n", ",extra\n", 300)).encode()
    with pytest.raises(NotStreamable):
        streamed(data, 4096)
    whole = patients_csv.read_whole(data, "patients/a.csv")
    pd.testing.assert_frame_equal(pd.concat(records(data, 4096), ignore_index=True), whole)
    monkeypatch.setattr(skipped_records, "MANY_RAGGED", 400)
    pd.testing.assert_frame_equal(pd.concat(streamed(data, 4096), ignore_index=True), whole)


def test_random_ragged_files_stream_to_the_whole_file_readers_rows():
    rng = random.Random(11)
    tokens = ["a", " b ", "", "  ", '""', '"x,y"', '"l1\nl2"', '"q""q"', '"abc"x', 'a"b', '"\r\n"', "é", "NA"]
    header = "patient_id,age,gender,admission_date,discharge_date,diagnosis"
    compared = ragged = 0
    for _ in range(200):
        rows = [",".join(rng.choice(tokens) for _ in range(rng.choice([1, 5, 6, 6, 6, 7, 9]))) for _ in range(20)]
        newline = rng.choice(["\n", "\r\n"])
        data = (newline.join([header, *rows]) + newline).encode()
        try:
            whole = patients_csv.read_whole(data, "patients/a.csv")
        except UnreadableFile:
            continue
        batches = streamed(data, rng.choice([128, 512, 1 << 20]))
        pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), whole)
        compared += 1
        ragged += bool(whole["parse_error"].notna().any())
    assert compared > 150 and ragged > 100


@pytest.mark.parametrize(
    "data",
    [
        (GOOD + "P9,40,M\n").encode() + b"\x00\x01",  # a NUL past the first block
        b"\x00" + GOOD.encode(),
        bytes(range(256)) * 4,
        (GOOD * 3).encode() + b"P1,\x00",  # after batches have been read
    ],
)
def test_a_file_with_a_nul_byte_is_refused_as_binary_as_the_whole_file_reader_refuses_it(data, monkeypatch):
    monkeypatch.setattr(patients_csv, "BLOCK_BYTES", 256)
    with pytest.raises(UnreadableFile) as refused:
        list(stream_patients_file(io.BytesIO(data), "patients/a.csv"))
    assert str(refused.value) == whole_file(data)


def test_a_zip_with_a_nul_byte_is_not_refused_as_a_csv():
    data = b"PK\x03\x04" + b"\x00" * 100
    with pytest.raises(Exception) as failed:
        list(stream_patients_file(io.BytesIO(data), "patients/a.zip"))
    assert "binary content" not in str(failed.value)
