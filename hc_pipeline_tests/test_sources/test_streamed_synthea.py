"""A Synthea export streams member by member: encounters.csv a block at a time, with the whole read's outcome."""

import datetime as dt
import io
import random
import zipfile

import pandas as pd
import pytest

from hc_pipeline.assets.patients import read_patients_file, stream_patients_file
from hc_pipeline.generate.synthea import synthea_zip
from hc_pipeline.sources import synthea_zip as reader
from hc_pipeline.sources.errors import UnreadableFile
from hc_pipeline.sources.synthea_zip import read_synthea_zip, stream_synthea_zip
from hc_pipeline.stores.landed import VersionChanged
from hc_pipeline.stores.local_landing import LocalLanding

SOURCE = "patients/exports/synthea.zip"
# Longer than any encounter row (about 360 bytes): pyarrow refuses a row that spans more than two blocks.
SMALL_BLOCKS = (2048, 16384)


@pytest.fixture(scope="module")
def export() -> bytes:
    return synthea_zip(dt.date(2025, 6, 15), seed=3, patients=200)[0]


def outcome(read) -> tuple[str, object]:
    try:
        return "rows", read()
    except UnreadableFile as refused:
        assert refused.source_file == SOURCE
        return "refused", refused.reason


def streamed(data: bytes, block_bytes: int, **limits) -> list[pd.DataFrame]:
    return list(stream_synthea_zip(io.BytesIO(data), SOURCE, block_bytes=block_bytes, **limits))


def same(whole: tuple[str, object], parts: tuple[str, object]) -> bool:
    if whole[0] != parts[0]:
        return False
    if whole[0] == "refused":
        return whole[1] == parts[1]
    joined = pd.concat(parts[1], ignore_index=True)
    return joined.equals(whole[1]) and list(joined.dtypes) == list(whole[1].dtypes)


def encounters_tail(data: bytes) -> int:
    """The offset of a byte near the end of encounters.csv's compressed data."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("encounters.csv"))
    return info.header_offset + 30 + len(info.filename.encode()) + info.compress_size - 200


def variants(data: bytes) -> dict[str, bytes]:
    rng = random.Random(11)
    found = {"clean": data}
    for n in range(12):
        flipped = bytearray(data)
        flipped[rng.randrange(len(data))] ^= 0xFF
        found[f"flip-{n}"] = bytes(flipped)
        found[f"truncated-{n}"] = data[: rng.randrange(4, len(data))]
    tail = bytearray(data)
    tail[encounters_tail(data)] ^= 0xFF
    found["damaged-tail"] = bytes(tail)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    lines = members["csv/encounters.csv"].split(b"\n")
    lines[-20] += b",one too many"
    members["csv/encounters.csv"] = b"\n".join(lines)
    ragged = io.BytesIO()
    with zipfile.ZipFile(ragged, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, member in members.items():
            archive.writestr(name, member)
    found["ragged-late"] = ragged.getvalue()
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, member in members.items():
            archive.writestr(name, member.replace(b",one too many", b""))
    # A newline of the stored encounters.csv turned into a comma after the archive was written: its CRC fails.
    damaged = bytearray(stored.getvalue())
    damaged[damaged.index(b"\n", encounters_tail(bytes(damaged)) - 100_000)] = ord(",")
    found["damaged-stored"] = bytes(damaged)
    return found


def test_a_clean_export_streams_in_batches_that_join_to_the_whole_reads_rows(export):
    whole = read_synthea_zip(export, SOURCE)
    batches = streamed(export, 4096)
    assert len(batches) > 20 and all(len(batch) for batch in batches)
    joined = pd.concat(batches, ignore_index=True)
    pd.testing.assert_frame_equal(joined, whole)
    rows = joined["source_row"].tolist()
    assert rows == sorted(rows) and len(set(rows)) == len(rows)


@pytest.mark.parametrize("block_bytes", SMALL_BLOCKS)
def test_every_damaged_export_streams_to_the_whole_reads_rows_or_refusal(export, block_bytes, monkeypatch):
    monkeypatch.setattr(reader, "_CHUNK", 1024)  # decompressed a little at a time, as a large entry is
    outcomes = {}
    for name, data in variants(export).items():
        whole = outcome(lambda data=data: read_synthea_zip(data, SOURCE))
        parts = outcome(lambda data=data: streamed(data, block_bytes))
        assert same(whole, parts), (name, whole if whole[0] == "refused" else "rows", parts[1])
        outcomes[name] = whole
    # Found by the CRC at the entry's end, after the rows before the damage parsed (and the damage failed to):
    # still a corrupt archive, not bad CSV.
    for damaged in ("damaged-tail", "damaged-stored"):
        assert outcomes[damaged][1].startswith("corrupt zip archive: csv/encounters.csv: Bad CRC-32"), damaged
    assert outcomes["ragged-late"][1] == "csv/encounters.csv: unreadable CSV (Expected 15 columns, got 16)"
    assert outcomes["clean"][0] == "rows"


def test_the_decompressed_bytes_of_the_streamed_entry_count_against_the_limit(export, monkeypatch):
    monkeypatch.setattr(reader, "_declared_size", lambda archive: 0)
    # Above patients.csv (58 kB decompressed), below it with encounters.csv (282 kB): refused mid-stream.
    with pytest.raises(UnreadableFile, match=r"^.*: zip bomb: decompressed data exceeds the limit of 200000 bytes$"):
        streamed(export, 4096, max_uncompressed_bytes=200_000)


def test_a_landed_zip_streams_through_the_landing_check_and_a_csv_still_streams(tmp_path, export):
    landing = LocalLanding(tmp_path)
    zipped = landing.put("patients/exports/synthea.zip", export)
    text = b"patient_id,age,gender,admission_date,discharge_date,diagnosis\nP1,40,F,2024-01-02,2024-01-05,Flu\n"
    plain = landing.put("patients/a.csv", text)
    for obj, data in ((zipped, export), (plain, text)):
        with landing.open(obj.key, obj.version) as handle:
            rows = pd.concat(list(stream_patients_file(handle, obj.key)), ignore_index=True)
        pd.testing.assert_frame_equal(rows, read_patients_file(data, obj.key))
    (tmp_path / "landing" / zipped.key).write_bytes(export[:100] + bytes([export[100] ^ 1]) + export[101:])
    with landing.open(zipped.key, zipped.version) as handle, pytest.raises(VersionChanged):
        next(stream_patients_file(handle, zipped.key))
