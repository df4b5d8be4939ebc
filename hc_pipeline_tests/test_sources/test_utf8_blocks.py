"""A landed stream decoded block by block says where its first non-UTF-8 byte is, as decoding it whole does."""

import codecs
import io
import random

import pytest

from hc_pipeline.sources.errors import BinaryContent, NotUtf8
from hc_pipeline.sources.utf8_blocks import utf8_blocks, utf8_lines


def first_error(data: bytes, block_bytes: int) -> tuple[int, str] | None:
    try:
        for _ in utf8_blocks(io.BytesIO(data), block_bytes):
            pass
    except NotUtf8 as bad:
        return bad.offset, bad.reason
    return None


def test_the_first_bad_byte_is_where_decoding_the_whole_file_finds_it():
    rng = random.Random(3)
    pieces, bad = ["a", "é", "€", "𝄞", "\n", "x" * 7], [b"\xff", b"\xc3", b"\xe2\x82", b"\x80", b"\xed\xa0\x80"]
    found = 0
    for _ in range(600):
        data = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))).encode()
        if rng.random() < 0.9:
            at = rng.randint(0, len(data))
            data = data[:at] + rng.choice(bad) + data[at:]
        data = (codecs.BOM_UTF8 if rng.random() < 0.3 else b"") + data
        data = data[: rng.randint(0, len(data))] if rng.random() < 0.1 else data
        try:
            data.decode("utf-8-sig")
            whole = None
        except UnicodeDecodeError as error:
            whole = (error.start, error.reason)
        for block_bytes in (1, 2, 3, 5, 64):
            assert first_error(data, block_bytes) == whole, (data, block_bytes)
        found += whole is not None
    assert found > 400


@pytest.mark.parametrize("data", [b"\xef", b"\xef\xbb", codecs.BOM_UTF8 + b"\xc3"])
def test_a_file_cut_inside_a_character_or_a_byte_order_mark_is_not_utf8(data):
    assert first_error(data, 1) == (0, "unexpected end of data")


def test_a_nul_byte_is_binary_content():
    with pytest.raises(BinaryContent):
        list(utf8_blocks(io.BytesIO(b"abc\x00"), 2))


@pytest.mark.parametrize("block_bytes", [1, 3, 7, 64])
def test_lines_come_in_pieces_of_whole_lines_that_join_to_the_text(block_bytes):
    text = "a\nbé\n\n€€€ no newline for a while 𝄞\nlast"
    pieces = list(utf8_lines(io.BytesIO(codecs.BOM_UTF8 + text.encode()), block_bytes))
    assert "".join(piece for piece, _ in pieces) == text
    assert [last for _, last in pieces] == [False] * (len(pieces) - 1) + [True]
    assert all(piece.endswith("\n") for piece, _ in pieces[:-1]) and all(piece for piece, _ in pieces[:-1])
