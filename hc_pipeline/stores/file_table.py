"""One per-file table in the lake as a parquet file, written and read row group by row group."""

import contextlib
import errno
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from hc_pipeline.stores.names import bounded_name


def arrow_dtype_for(arrow_type: pa.DataType):
    """Keep strings, lists, structs and maps Arrow-backed when reading back."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    if pa.types.is_list(arrow_type) or pa.types.is_struct(arrow_type) or pa.types.is_map(arrow_type):
        return pd.ArrowDtype(arrow_type)
    return None


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """The table as the frame it was written from, also when only some of its columns were read."""
    metadata = table.schema.pandas_metadata
    if metadata and len(metadata["columns"]) != table.num_columns:
        # pandas would rebuild the dtype of every column its metadata names, read or not.
        names = set(table.column_names)
        metadata = {**metadata, "columns": [c for c in metadata["columns"] if c["name"] in names]}
        table = table.replace_schema_metadata({**table.schema.metadata, b"pandas": json.dumps(metadata).encode()})
    return table.to_pandas(types_mapper=arrow_dtype_for)


def to_arrow(frame: pd.DataFrame, schema: pa.Schema | None = None) -> pa.Table:
    """The frame as an Arrow table without its index or attrs (pyarrow would warn on each date in them)."""
    plain = frame.copy(deep=False)
    plain.attrs = {}
    return pa.Table.from_pandas(plain, schema=schema, preserve_index=False)


@dataclass(frozen=True)
class FileTable:
    """A per-file table already written to its lake path: its size and columns, its rows one row group at a time."""

    path: UPath
    num_rows: int
    schema: pa.Schema

    def batches(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """The rows in file order, one frame per row group (one empty frame for a table without rows)."""
        with self.path.open("rb") as handle:
            parquet = pq.ParquetFile(handle)
            if not parquet.num_row_groups:
                empty = parquet.schema_arrow.empty_table()
                yield _to_pandas(empty.select(columns) if columns else empty)
            for group in range(parquet.num_row_groups):
                yield _to_pandas(parquet.read_row_group(group, columns=columns))

    def head(self, rows: int = 5) -> pd.DataFrame:
        """The first rows (all columns, typed as the whole table)."""
        with self.path.open("rb") as handle:
            parquet = pq.ParquetFile(handle)
            first = next(parquet.iter_batches(batch_size=max(rows, 1)), None)
            table = pa.Table.from_batches([first] if first is not None else [], schema=parquet.schema_arrow)
            return _to_pandas(table.slice(0, rows))

    def to_pandas(self) -> pd.DataFrame:
        """The whole table as one frame: only for tables known to be small."""
        with self.path.open("rb") as handle:
            return _to_pandas(pq.read_table(handle))

    def column(self, name: str) -> np.ndarray:
        """One column's values for the whole file (a fixed-width column: 8 bytes a row)."""
        with self.path.open("rb") as handle:
            return pq.read_table(handle, columns=[name]).column(name).to_numpy()


class TableWriter:
    """Writes one table row group by row group; readers see the finished file or none of it.

    Locally a hidden partial file is renamed into place; on S3 s3fs sends a multipart upload, which S3 shows
    only when it completes.
    """

    def __init__(self, path: UPath):
        self.path = path
        self._local = path.protocol in ("", "file", "local")
        self._target = (
            path.with_name(f".{bounded_name(path.name, 120)}.{uuid.uuid4().hex}.partial") if self._local else path
        )
        self._sink = None
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        """Append the frame as one row group (its columns as the first frame's)."""
        if self._writer is None:
            table = to_arrow(frame)
            if self._local:
                self._target.parent.mkdir(parents=True, exist_ok=True)
            self._schema = table.schema
            self._sink = self._target.open("wb")
            self._writer = pq.ParquetWriter(self._sink, self._schema)
        else:
            table = to_arrow(frame, self._schema)
        self._writer.write_table(table)
        self._rows += len(frame)

    def write_all(self, frames: Iterable[pd.DataFrame]) -> "FileTable":
        """Write every frame, then close; on any error nothing is left behind."""
        try:
            for frame in frames:
                self.write(frame)
            return self.close()
        except BaseException as error:
            self.abort()
            if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
                # Name the table being written, not its hidden temporary twin.
                raise OSError(error.errno, error.strerror, str(self.path)) from error
            raise

    def close(self) -> FileTable:
        """Finish the file and put it in place."""
        if self._writer is None:
            raise ValueError(f"{self.path}: no rows or columns were written")
        self._writer.close()
        self._sink.close()
        if self._local:
            self._target.rename(self.path)
        return FileTable(self.path, self._rows, self._schema)

    def abort(self) -> None:
        """Drop what was written."""
        if self._writer is not None:
            with contextlib.suppress(Exception):  # its footer may fail to write too (a full disk)
                self._writer.close()
        if self._sink is not None:
            discard = getattr(self._sink, "discard", None)  # an s3fs upload not yet completed
            if discard is not None and not self._local:
                discard()
            else:
                self._sink.close()
        if self._local:
            self._target.unlink(missing_ok=True)


def frames(table: "pd.DataFrame | FileTable", columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """A table's rows batch by batch, whether written (`FileTable`) or held as one frame."""
    if isinstance(table, FileTable):
        yield from table.batches(columns)
    else:
        yield table[columns] if columns else table


def row_count(table: "pd.DataFrame | FileTable") -> int:
    return table.num_rows if isinstance(table, FileTable) else len(table)
