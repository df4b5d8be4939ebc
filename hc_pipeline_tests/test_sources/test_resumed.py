"""A stream resumed after its first bytes were read gives every byte once, in order, however it is read."""

import io

import pytest

from hc_pipeline.sources.resumed import resumed
from hc_pipeline.stores.digests import CHUNK_BYTES


@pytest.mark.parametrize("head_bytes", [0, 1, CHUNK_BYTES - 1, 3 * CHUNK_BYTES + 5])
@pytest.mark.parametrize("read_bytes", [1000, CHUNK_BYTES, 2 * CHUNK_BYTES])
def test_the_head_then_the_rest_in_reads_shorter_or_longer_than_the_head(head_bytes, read_bytes):
    data = bytes(range(256)) * ((5 * CHUNK_BYTES) // 256)
    stream = resumed(data[:head_bytes], io.BytesIO(data[head_bytes:]))
    parts = list(iter(lambda: stream.read(read_bytes), b""))
    assert b"".join(parts) == data
    assert all(len(part) == read_bytes for part in parts[:-1])
