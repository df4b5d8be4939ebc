"""What a source sent beyond the curated contract, kept in one `extra` column: map<string, string>, field -> text.

One stable column instead of a column per unknown field: every file's curated table keeps the same schema,
and the values stay queryable (`element_at(extra, 'ward')` on Athena and, through sqlglot, on DuckDB).
Null and blank values are left out; nested JSON values are kept as compact JSON text.
"""

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow

from hc_pipeline.sources import json_numbers
from hc_pipeline.vocabulary import EXTRA_TYPE

EXTRA_DTYPE = pd.ArrowDtype(EXTRA_TYPE)


def as_text(value: object) -> str | None:
    """A JSON value as text: strings as they are, numbers and booleans as JSON, objects and lists as JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json_numbers.dumps(value, ensure_ascii=False, separators=(",", ":"))  # `1e400` as sent


def extra_column(rows: Iterable[Mapping[str, object]], index: pd.Index) -> pd.Series:
    """One map per row from Python dicts of leftover fields (JSON values), nulls left out."""
    entries = [[(key, text) for key, value in row.items() if (text := as_text(value)) is not None] for row in rows]
    return _series(pyarrow.array(entries, type=EXTRA_TYPE), index)


def extra_from_columns(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One map per row from text columns of `frame`: column name -> value, nulls left out, in column order."""
    n_rows = len(frame)
    if not columns:
        offsets = pyarrow.array(np.zeros(n_rows + 1, dtype=np.int32))
        empty = pyarrow.array([], pyarrow.string())
        return _series(pyarrow.MapArray.from_arrays(offsets, empty, empty), frame.index)
    texts = [_text_array(frame[name]) for name in columns]
    present = np.stack([text.is_valid().to_numpy(zero_copy_only=False) for text in texts], axis=1)
    offsets = np.concatenate([[0], np.cumsum(present.sum(axis=1))]).astype(np.int32)
    # Row-major positions into the columns laid end to end: each row's entries together, in column order.
    positions = (np.arange(len(columns)) * n_rows + np.arange(n_rows)[:, None]).ravel()[present.ravel()]
    values = pyarrow.concat_arrays(texts).take(pyarrow.array(positions))
    keys = pyarrow.array(columns, pyarrow.string()).take(pyarrow.array(positions // max(n_rows, 1)))
    entries = pyarrow.MapArray.from_arrays(pyarrow.array(offsets), keys, values)
    return _series(entries, frame.index)


def _text_array(column: pd.Series) -> pyarrow.Array:
    """A text column as one Arrow string array (a large file's column comes in several chunks)."""
    array = pyarrow.array(column, from_pandas=True)
    if isinstance(array, pyarrow.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pyarrow.string())


def _series(array: pyarrow.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(array), index=index, dtype=EXTRA_DTYPE)
