"""One per-file table in the lake as a parquet file, written and read row group by row group."""

import contextlib
import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from hc_pipeline.stores.whole_writes import written_whole


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

    def to_pandas(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The whole table (or these columns) as one frame: only for tables known to be small."""
        with self.path.open("rb") as handle:
            return _to_pandas(pq.read_table(handle, columns=columns))

    def column(self, name: str) -> np.ndarray:
        """One column's values for the whole file (a fixed-width column: 8 bytes a row)."""
        with self.path.open("rb") as handle:
            return pq.read_table(handle, columns=[name]).column(name).to_numpy()


def write_table(path: UPath, batches: Iterable[pd.DataFrame]) -> FileTable:
    """Write each frame as one row group (columns typed as the first frame's); readers see the finished file or
    none of it. A row group is encoded on a thread of its own while the next frame is made (Arrow's encoding
    releases the GIL): at most one waits."""
    writer, schema, rows, written = None, None, 0, None
    with written_whole(path) as sink, ThreadPoolExecutor(1, thread_name_prefix="parquet-writer") as pool:
        try:
            for frame in batches:
                table = to_arrow(frame, schema)
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(sink, schema)
                if written is not None:
                    written.result()
                written = pool.submit(writer.write_table, table)
                rows += len(frame)
            if written is not None:
                written.result()
        except BaseException:
            if written is not None:
                wait([written])  # the writer is closed only once its last row group is done
            if writer is not None:
                with contextlib.suppress(Exception):  # its footer may fail to write too (a full disk)
                    writer.close()
            raise
        if writer is None:
            raise ValueError(f"{path}: no rows or columns were written")
        writer.close()
    return FileTable(path, rows, schema)


def frames(table: "pd.DataFrame | FileTable", columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """A table's rows batch by batch, whether written (`FileTable`) or held as one frame."""
    if isinstance(table, FileTable):
        yield from table.batches(columns)
    else:
        yield table[columns] if columns else table


def row_count(table: "pd.DataFrame | FileTable") -> int:
    return table.num_rows if isinstance(table, FileTable) else len(table)
