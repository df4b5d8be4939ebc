"""Records pyarrow's CSV reader skips for their field count, put back where they stand, padded or cut."""

import collections
import csv
import io
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from hc_pipeline.sources.errors import NotStreamable

# pandas keeps string[pyarrow] as large_string: build that from the start, or to_pandas copies every column.
TEXT = pa.large_string()
# Ragged records a file may have, however many of its records are, before the share of them counts.
MANY_RAGGED = 1_000


def padded(records: Iterable[tuple[int, list[str]]], width: int) -> tuple[list[pa.Array], list[str | None]]:
    """Each record's fields as `width` text columns: a ragged one is padded with nulls or cut, with a parse error."""
    values, errors = [], []
    for _, row in records:
        n = len(row)
        if n == width:
            errors.append(None)
        else:
            errors.append(f"record has {n} field{'s' if n != 1 else ''}, header has {width}")
            row = (row + [None] * width)[:width]
        values.extend(row)
    return [pa.array(values[i::width], TEXT) for i in range(width)], errors


class SkippedRecords:
    """pyarrow's `invalid_row_handler` for a reader that parses in file order (no threads): it remembers each skipped
    record, and `merged` puts them back among a batch's rows as Python's csv module reads them."""

    def __init__(self, names: list[str]):
        self._names, self._skipped = names, collections.deque()
        self._next = 1  # the record number of the next batch's first row: pyarrow counts records from 1
        self._count = 0

    def __call__(self, row: pa_csv.InvalidRow) -> str:
        self._count += 1
        # More than a quarter of the records ragged: Python's csv module reads such a file faster than this handler.
        if row.number is None or (self._count > MANY_RAGGED and self._count * 4 > row.number):
            return "error"
        self._skipped.append(row)
        return "skip"

    def merged(self, batch: pa.RecordBatch) -> tuple[pa.Table, list[str | None] | None]:
        """The batch with the records skipped among its rows, and each row's parse error (None: none skipped).

        A record that is blank for Python's csv module (spaces only) is dropped, as the whole-file reader drops it.
        """
        start, taken = self._next, []
        # A record right after the batch's span comes before the next batch's rows: a run of them joins this batch,
        # so a file of ragged records only streams a batch at a time too.
        while self._skipped and self._skipped[0].number <= start + batch.num_rows + len(taken):
            taken.append(self._skipped.popleft())
        self._next = start + batch.num_rows + len(taken)
        table = pa.Table.from_batches([batch])
        if not taken:
            return table, None
        records = [list(csv.reader(io.StringIO(row.text, newline=""))) for row in taken]
        if any(len(parsed) > 1 for parsed in records):
            raise NotStreamable()  # one record to pyarrow, several to Python: the whole-file reader decides
        fields = [parsed[0] if parsed else [] for parsed in records]
        kept = np.array([len(row) > 1 or bool(row and row[0].strip()) for row in fields])
        columns, errors = padded(((0, row) for row, keep in zip(fields, kept) if keep), len(self._names))
        skipped_at = np.zeros(batch.num_rows + len(taken), dtype=bool)
        skipped_at[[row.number - start for row in taken]] = True
        order = np.empty(len(skipped_at), dtype=np.int64)
        order[~skipped_at] = np.arange(batch.num_rows)
        order[skipped_at] = np.where(kept, batch.num_rows + np.cumsum(kept) - 1, -1)
        order = order[order >= 0]
        joined = pa.concat_tables([table, pa.table(columns, names=table.column_names)])
        all_errors = [None] * batch.num_rows + errors
        return joined.take(order), [all_errors[i] for i in order]
