"""What a file's cross-row rules write to disk in the sweep that counts it, so their state stays small.

The counting sweep writes every row's key; once it ends, DuckDB finds the keys the file holds more than once, and
the judging sweep remembers only the rows that carry them (a few percent at most) instead of every key.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.parquet as pq

# DuckDB spills past it: finding the repeated keys of 50M rows then costs disk, not 1-2 GB of memory.
MEMORY_LIMIT = "256MB"


class Spill:
    """Record batches appended to one parquet file, in the order they come."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: pq.ParquetWriter | None = None

    def write(self, columns: dict[str, np.ndarray | pd.Series]) -> None:
        """Append one batch of equal-length columns."""
        table = pyarrow.table(columns)
        if self._writer is None:
            # Hashes do not compress; row numbers rise, so their deltas pack into a byte or two; a text column
            # (diagnoses) repeats few values.
            encodings = {name: "DELTA_BINARY_PACKED" for name in table.column_names if name == "row"}
            texts = [
                f.name for f in table.schema if pyarrow.types.is_string(f.type) or pyarrow.types.is_large_string(f.type)
            ]
            self._writer = pq.ParquetWriter(
                self.path, table.schema, compression="none", use_dictionary=texts, column_encoding=encodings
            )
        self._writer.write_table(table)

    def close(self) -> bool:
        """Finish the file; False when nothing was written."""
        if self._writer is None:
            return False
        self._writer.close()
        return True


@contextlib.contextmanager
def spilling_duckdb(folder: Path) -> Iterator:
    """A DuckDB held to `MEMORY_LIMIT` that spills into `folder`, closed on exit."""
    import duckdb

    spill = folder / "duckdb"
    spill.mkdir(exist_ok=True)
    with duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill), "threads": 2}) as con:
        yield con


def rows_of_repeated_keys(con, spill: Spill) -> dict[str, np.ndarray]:
    """Key and row of every row whose key the spill holds more than once, in row order."""
    if not spill.close():
        return {"key": np.zeros(0, dtype=np.uint64), "row": np.zeros(0, dtype=np.int64)}
    found = con.execute(
        "select key, row from read_parquet($path) "
        "where key in (select key from read_parquet($path) group by key having count(*) > 1) order by row",
        {"path": str(spill.path)},
    ).fetchnumpy()
    return {"key": np.asarray(found["key"], dtype=np.uint64), "row": np.asarray(found["row"], dtype=np.int64)}
