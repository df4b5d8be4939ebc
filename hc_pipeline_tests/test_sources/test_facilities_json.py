"""Tests for the facilities JSON reader."""

import io
import json
import random

import pandas as pd
import pytest

from hc_pipeline.sources import facilities_json
from hc_pipeline.sources.errors import NotStreamable, UnreadableFile
from hc_pipeline.sources.facilities_json import COLUMNS, read_facilities, stream_facilities

SOURCE = "facilities/landing [v2], émission.json"

FLAT = {
    "facility_id": "FAC-001",
    "facility_name": "Clinique Émile",
    "employee_count": 120,
    "services": ["Radiology", "ER"],
    "accreditations": [{"name": "JCI", "expiry_date": "2028-02-29"}],
    "state": "tx",
}
NESTED = {
    "facility_id": "FAC-002",
    "facility_name": "North Lab",
    "location": {"address": "1 Main St", "city": "Austin", "state": "TX", "zip": "73301"},
    "employee_count": 45,
    "services": ["Lab"],
    "labs": [{"lab_name": "Core", "certifications": ["CLIA", "CAP"]}],
    "accreditations": [{"accreditation_body": "CAP", "accreditation_id": "CAP-9", "valid_until": "2027-01-31"}],
    "unknown_extra": {"kept": [1, 2.5, None, True]},
}


def _compact(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _read(data: bytes) -> pd.DataFrame:
    return read_facilities(data, SOURCE)


def _records(frame: pd.DataFrame) -> list[tuple]:
    return [
        (json.loads(text), row, None if pd.isna(error) else error)
        for text, row, error in zip(frame["record_json"], frame["source_row"], frame["parse_error"])
    ]


def test_columns_and_dtypes_are_stable():
    frame = _read(json.dumps([FLAT]).encode())
    assert list(frame.columns) == COLUMNS
    assert frame["source_row"].dtype == "int64"
    assert str(frame["record_json"].dtype) == str(frame["parse_error"].dtype) == "string"
    assert frame["source_file"].tolist() == [SOURCE]


def test_single_object_is_one_record_at_row_1():
    frame = _read(json.dumps(NESTED, indent=2).encode())
    assert _records(frame) == [(NESTED, 1, None)]


def test_array_rows_are_element_positions():
    frame = _read(json.dumps([FLAT, NESTED], indent=2).encode())
    assert _records(frame) == [(FLAT, 1, None), (NESTED, 2, None)]


def test_ndjson_rows_are_physical_lines_and_blank_lines_are_skipped():
    data = f"{json.dumps(FLAT)}\n\n   \n{json.dumps(NESTED)}\n".encode()
    assert _records(_read(data)) == [(FLAT, 1, None), (NESTED, 4, None)]


def test_ndjson_with_crlf_line_endings():
    data = f"{json.dumps(FLAT)}\r\n{json.dumps(NESTED)}\r\n".encode()
    assert _records(_read(data)) == [(FLAT, 1, None), (NESTED, 2, None)]


def test_wrapper_object_with_one_list_yields_its_elements():
    data = json.dumps({"generated": "2028-01-01", "count": 2, "sample_data": [FLAT, NESTED]}).encode()
    assert _records(_read(data)) == [(FLAT, 1, None), (NESTED, 2, None)]


@pytest.mark.parametrize("record", [FLAT, NESTED], ids=["flat", "nested"])
@pytest.mark.parametrize("container", ["object", "array", "ndjson", "wrapper"])
def test_each_variant_in_each_container_keeps_every_field(record, container):
    data = {
        "object": json.dumps(record),
        "array": json.dumps([record]),
        "ndjson": json.dumps(record) + "\n" + json.dumps(record),
        "wrapper": json.dumps({"facilities": [record]}),
    }[container]
    frame = _read(data.encode())
    assert set(frame["record_json"]) == {_compact(record)}
    assert frame["parse_error"].isna().all()


@pytest.mark.parametrize("container", ["object", "array", "ndjson", "wrapper"])
def test_utf8_bom_is_accepted(container):
    data = {
        "object": json.dumps(FLAT, ensure_ascii=False),
        "array": json.dumps([FLAT], ensure_ascii=False),
        "ndjson": json.dumps(FLAT, ensure_ascii=False) + "\n" + json.dumps(NESTED),
        "wrapper": json.dumps({"sample_data": [FLAT]}, ensure_ascii=False),
    }[container]
    frame = _read(b"\xef\xbb\xbf" + data.encode("utf-8"))
    assert _records(frame)[0] == (FLAT, 1, None)


def test_record_json_is_compact_and_keeps_non_ascii_text():
    frame = _read(json.dumps(FLAT, indent=4).encode())
    assert frame["record_json"][0] == _compact(FLAT)
    assert "Émile" in frame["record_json"][0]


def test_lone_surrogate_escape_stays_valid_text():
    frame = _read(b'[{"facility_id": "F\\ud800"}]')
    assert json.loads(frame["record_json"][0]) == {"facility_id": "F\ud800"}
    frame["record_json"][0].encode("utf-8")


def test_ndjson_bad_line_is_kept_with_parse_error_and_others_are_read():
    lines = [json.dumps(FLAT), json.dumps(NESTED), '{"facility_id": "FAC-003" "state": "TX"}', json.dumps(FLAT)]
    frame = _read("\n".join(lines).encode())
    assert frame["source_row"].tolist() == [1, 2, 3, 4]
    assert frame["parse_error"][2] == "line 3: Expecting ',' delimiter (JSON)"
    assert frame["record_json"][2] == lines[2]
    assert frame["parse_error"].isna().tolist() == [True, True, False, True]


def test_ndjson_bad_first_line_still_reads_the_rest():
    data = "facilities export\n" + "\n".join(json.dumps(FLAT) for _ in range(3))
    frame = _read(data.encode())
    assert frame["parse_error"][0].startswith("line 1: Expecting value")
    assert frame["parse_error"].isna().tolist() == [False, True, True, True]


def test_ndjson_line_that_is_not_an_object_is_flagged():
    frame = _read(f'{json.dumps(FLAT)}\n["FAC-9"]\n'.encode())
    assert frame["parse_error"][1] == "line 2: a JSON array, not an object"
    assert frame["record_json"][1] == '["FAC-9"]'


@pytest.mark.parametrize("wrapped", [False, True])
def test_list_element_that_is_not_an_object_is_flagged(wrapped):
    items = [FLAT, "FAC-9", None, [1], 7]
    frame = _read(json.dumps({"data": items} if wrapped else items).encode())
    assert frame["parse_error"].tolist()[1:] == [
        "element 2: a JSON string, not an object",
        "element 3: a JSON null, not an object",
        "element 4: a JSON array, not an object",
        "element 5: a JSON number, not an object",
    ]
    assert frame["record_json"].tolist()[1:] == ['"FAC-9"', "null", "[1]", "7"]


@pytest.mark.parametrize("container", ["array", "ndjson"])
def test_numbers_past_a_float_range_are_valid_json_kept_as_written(container):
    records = [
        '{"facility_id": "F1", "extra": 1e400}',
        '{"facility_id": "F2", "employee_count": -2.5E+999, "n": [1e308]}',
    ]
    text = f"[{', '.join(records)}]" if container == "array" else "\n".join(records) + "\n"
    frame = _read(text.encode())
    assert frame["parse_error"].isna().all() and frame["source_row"].tolist() == [1, 2]
    assert frame["record_json"].tolist() == [
        '{"facility_id":"F1","extra":1e400}',
        '{"facility_id":"F2","employee_count":-2.5E+999,"n":[1e+308]}',
    ]


UNREADABLE = [
    (b"", "empty file"),
    (b" \r\n\t\n", "empty file"),
    (b"\xef\xbb\xbf", "empty file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary content, not a UTF-8 JSON text file"),
    ('[{"facility_id": "F1"}]'.encode("utf-16"), "binary content, not a UTF-8 JSON text file"),
    (b"\x89PNG\r\n\x1a\n", "not UTF-8 text: byte 0: invalid start byte"),
    ("é".encode("latin-1"), "not UTF-8 text: byte 0: unexpected end of data"),
    (b"facility_id,state\nF1,TX\n", "not JSON: line 1 column 1: Expecting value"),
    (b'[{"facility_id": "F1"}', "not JSON: line 1 column 23: Expecting ',' delimiter"),
    (
        b'[\n  {"facility_id": "F1"},\n  {"facility_id": "F2"}\n',
        "not JSON: line 4 column 1: Expecting ',' delimiter",
    ),
    (b'{"facility_id": "F1"} trailing', "not JSON: line 1 column 23: Extra data"),
    (b"[1]\n[2]\n", "not JSON: line 2 column 1: Extra data"),
    (b'"a string"', "not a facilities file: the JSON is a single string"),
    (b"42", "not a facilities file: the JSON is a single number"),
    (b"null", "not a facilities file: the JSON is a single null"),
    (b"true", "not a facilities file: the JSON is a single boolean"),
    (b"[]", "no records: the JSON list is empty"),
    (b'{"sample_data": []}', "no records: the JSON list is empty"),
    (b"{}", "not a facilities file: a JSON object with no facility fields and no list"),
    (b'{"count": 3}', "not a facilities file: a JSON object with no facility fields and no list"),
    (b'{"a": [], "b": [{}]}', "ambiguous wrapper: the JSON object holds 2 lists ('a', 'b')"),
    (b'[{"employee_count": NaN}]', "not JSON: NaN is not valid JSON"),
    (b"[" * 100_000, "not JSON: nested too deeply"),
]


@pytest.mark.parametrize(
    ("data", "reason"),
    UNREADABLE,
    ids=lambda value: value[:20] if isinstance(value, bytes) else None,
)
def test_unreadable_file_raises_with_its_reason(data, reason):
    with pytest.raises(UnreadableFile) as caught:
        _read(data)
    assert caught.value.reason == reason
    assert caught.value.source_file == SOURCE
    assert str(caught.value) == f"{SOURCE}: {reason}"


def _mutations(rng: random.Random, seed_doc: bytes, count: int):
    for _ in range(count):
        data = bytearray(seed_doc)
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(3)
            position = rng.randrange(len(data) + 1)
            if op == 0 and data:
                del data[min(position, len(data) - 1)]
            elif op == 1:
                data.insert(position, rng.choice(b'{}[]",:\n\\0e-\xff\xef\xbb\xbf '))
            elif data:
                data[min(position, len(data) - 1)] = rng.randrange(256)
        yield bytes(data)


def test_random_and_mutated_bytes_never_raise_anything_but_unreadable_file():
    rng = random.Random(20280229)
    documents = [
        json.dumps([FLAT, NESTED]).encode(),
        (json.dumps(FLAT) + "\n" + json.dumps(NESTED) + "\n").encode(),
        json.dumps({"sample_data": [NESTED]}).encode(),
    ]
    samples = [rng.randbytes(rng.randrange(0, 64)) for _ in range(300)]
    for document in documents:
        samples.extend(_mutations(rng, document, 300))
    for data in samples:
        try:
            frame = _read(data)
        except UnreadableFile as exc:
            assert exc.reason
            continue
        assert list(frame.columns) == COLUMNS
        assert (frame["source_row"] >= 1).all()
        for text, error in zip(frame["record_json"], frame["parse_error"]):
            if pd.isna(error):
                assert isinstance(json.loads(text), dict)


def _streamed(data: bytes, block_bytes: int) -> pd.DataFrame | str | None:
    """The rows `stream_facilities` yields, the reason it refuses the file for, or None when it hands the file to
    the whole-file reader."""
    try:
        return pd.concat(list(stream_facilities(io.BytesIO(data), SOURCE, block_bytes)), ignore_index=True)
    except NotStreamable:
        return None
    except UnreadableFile as refused:
        return str(refused)


def _streamed_as_whole(samples: list[bytes], blocks: tuple[int, ...]) -> int:
    """How many (sample, block size) pairs streamed; each streamed one gives the whole-file reader's rows."""
    streamed = 0
    for data in samples:
        try:
            whole = _read(data)
        except UnreadableFile as refused:
            whole = str(refused)
        for block_bytes in blocks:
            rows = _streamed(data, block_bytes)
            if isinstance(rows, str):
                assert rows == whole, data  # refused as the whole-file reader refuses it
            elif rows is not None:
                assert not isinstance(whole, str), data
                pd.testing.assert_frame_equal(rows, whole)
                streamed += 1
    return streamed


def test_a_streamed_ndjson_file_gives_the_whole_file_readers_rows_and_anything_else_goes_to_it():
    rng = random.Random(7)
    ndjson = (json.dumps(FLAT) + "\r\n\n" + "not json\n" + "[1]\n" + json.dumps(NESTED) + "\n\n").encode()
    samples = [ndjson, b"\xef\xbb\xbf" + ndjson, ndjson.rstrip(b"\n"), ndjson + "é".encode("latin-1")]
    samples += [json.dumps([FLAT, NESTED]).encode(), json.dumps(FLAT).encode() + b"\n", b""]
    samples += [b'{"sample_data": [{"facility_id": "F1"}, {"facility_id": "F2"}]}\n', b"\n\n" + ndjson]
    samples += [data for data, _ in UNREADABLE] + list(_mutations(rng, ndjson, 300))
    streamed = _streamed_as_whole(samples, (5, 64, 1 << 20))
    assert _streamed(ndjson, 5) is not None and _streamed(b"\xef\xbb\xbf" + ndjson, 64) is not None
    assert streamed > 300  # most mutations of an NDJSON file are still NDJSON, read as a stream


def test_a_streamed_json_array_gives_the_whole_file_readers_rows_and_anything_else_goes_to_it():
    rng = random.Random(11)
    elements = [FLAT, NESTED, 12, "text", None, [FLAT], {"facility_id": "F3", "n": "BIG", "s": "TEXT"}]
    array = json.dumps(elements * 3, indent=1, ensure_ascii=False).encode()
    array = array.replace(b'"BIG"', b"1e400").replace(b'"TEXT"', '"\\ud800 é ✓"'.encode())
    samples = [array, b"\xef\xbb\xbf \r\n" + array + b"\n\t ", json.dumps(elements, separators=(",", ":")).encode()]
    samples += [b"[" + json.dumps(FLAT).encode() + b"]", b"[]", b" [ ] ", b"[1,]", b"[1 2]", b"[1] [2]", b"[-]"]
    samples += [b"[12345678901234567890, 1.5e3]", b'["' + "é".encode() * 40 + b'"]', b"[NaN]", b"[" * 5000]
    samples += [array[:-1], array + b"x", array.replace(b"FAC-001", "FAC-\u00e9".encode("latin-1"), 1)]
    samples += list(_mutations(rng, array, 300))
    streamed = _streamed_as_whole(samples, (7, 64, 1 << 20))
    assert _streamed(array, 7) is not None and _streamed(samples[1], 64) is not None
    assert _streamed(b"[12345678901234567890, 1.5e3, true]", 7) is not None  # values cut by a block still stream
    assert len(list(stream_facilities(io.BytesIO(array), SOURCE, 64))) > 5  # a batch per 64 characters or so
    assert streamed > 100  # a mutation that leaves the array valid JSON still streams


def test_a_streamed_wrapper_gives_the_whole_file_readers_rows_and_anything_else_goes_to_it():
    rng = random.Random(12)
    wrapper = {"source": {"system": "x", "n": [1]}, "exported": "2025-06-30", "sample_data": [FLAT, NESTED, 5] * 4}
    pretty = json.dumps(wrapper, indent=2, ensure_ascii=False).encode()
    samples = [pretty, b"\xef\xbb\xbf" + pretty, json.dumps(wrapper).encode() + b"\n", json.dumps(wrapper).encode()]
    samples += [
        b'{\n"a": [1], "b": [2]}',  # two lists: ambiguous
        b'{\n"data": [{"facility_id": "F1"}], "facility_id": "F9"}',  # a record after all
        b'{\n"data": [{"facility_id": "F1"}], "data": [{"facility_id": "F2"}]}',  # the last of a repeated key wins
        b'{\n"data": [{"facility_id": "F1"}], "data": 5}',
        b'{\n"data": []}',
        b'{\n"note": "no list"}',
        b"{\n}",
        b'{\n"data": [{"facility_id": "F1"}],}',
        b'{\n"data": [{"facility_id": "F1"}]} trailing',
        json.dumps(FLAT, indent=2).encode(),  # one record, pretty-printed
    ]
    samples += list(_mutations(rng, pretty, 300))
    streamed = _streamed_as_whole(samples, (7, 64, 1 << 20))
    assert all(_streamed(data, 64) is not None for data in samples[:2])
    assert len(list(stream_facilities(io.BytesIO(pretty), SOURCE, 64))) > 5
    assert streamed > 100


def test_a_minified_wrapper_streams_and_an_ndjson_record_longer_than_a_line_goes_to_the_whole_file_reader(monkeypatch):
    monkeypatch.setattr(facilities_json, "LONGEST_LINE", 200)
    minified = json.dumps({"exported": "2025-06-30", "sample_data": [FLAT, NESTED, 5] * 4}).encode()
    long_first = (json.dumps({**NESTED, "notes": "x" * 300}) + "\n" + json.dumps(FLAT) + "\n").encode()
    samples = [minified, minified + b"\n", b"\xef\xbb\xbf \n" + minified, long_first]
    assert _streamed_as_whole(samples, (7, 64, 1 << 20)) >= 9
    assert all(_streamed(data, block) is not None for data in samples[:3] for block in (7, 64))
    assert len(list(stream_facilities(io.BytesIO(minified), SOURCE, 64))) > 5  # a batch per 64 characters or so
    assert _streamed(long_first, 64) is None and len(_read(long_first)) == 2


@pytest.mark.parametrize(
    "data",
    [
        (json.dumps(FLAT) + "\n").encode() * 20 + b'{"facility_id": "F\x00"}\n',  # NDJSON, a NUL past the first block
        json.dumps([FLAT] * 20).encode()[:-1] + b', "\x00"]',  # an array
        b"\xff\xfe{\x00}\x00",  # UTF-16
    ],
)
def test_a_nul_byte_is_refused_as_binary_as_the_whole_file_reader_refuses_it(data):
    refused = _streamed(data, 64)
    assert isinstance(refused, str) and refused == f"{SOURCE}: binary content, not a UTF-8 JSON text file"
    with pytest.raises(UnreadableFile) as whole:
        _read(data)
    assert str(whole.value) == refused


@pytest.mark.parametrize("text", ["", "\n", "a", "a\nb", "a\n\nb\n", "\n\na\r\n"])
def test_lines_are_numbered_as_split_numbers_them(text):
    assert list(facilities_json._lines(text)) == list(enumerate(text.split("\n"), start=1))


def test_a_cut_array_is_refused_with_the_first_error_of_the_whole_text():
    cut = json.dumps([FLAT, NESTED] * 50, indent=1).encode()[:-40]
    with pytest.raises(UnreadableFile) as refused:
        read_facilities(cut, SOURCE)
    with pytest.raises(json.JSONDecodeError) as parsed:
        json.loads(cut)
    where = f"line {parsed.value.lineno} column {parsed.value.colno}: {parsed.value.msg}"
    assert refused.value.reason == f"not JSON: {where}"


@pytest.mark.parametrize(
    "data",
    [
        (json.dumps(FLAT) + "\n").encode() * 20 + '{"facility_id": "FAC-é"}\n'.encode("latin-1"),  # NDJSON
        b"\xef\xbb\xbf" + (json.dumps(FLAT) + "\n").encode() * 20 + b'{"n": "\xff"}\n',  # after a byte-order mark
        json.dumps([FLAT] * 20).encode()[:-1] + ', "FAC-\xe9"]'.encode("latin-1"),  # an array
        json.dumps([FLAT] * 20).encode()[:-1] + ', "\xe9"]'.encode("latin-1") + b"\x00",  # ... and a NUL after it
    ],
)
def test_a_byte_that_is_not_utf8_is_refused_as_the_whole_file_reader_refuses_it(data):
    refused = _streamed(data, 64)
    with pytest.raises(UnreadableFile) as whole:
        _read(data)
    assert isinstance(refused, str) and refused == str(whole.value)
