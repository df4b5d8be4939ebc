"""What the cross-row rules remember of one file while it is judged batch by batch, in file order.

Rows are remembered as 64-bit hashes of the compared values, lengths of stay as per-diagnosis histograms;
a whole file judged at once is the one-batch case.
"""

import contextlib
from collections import defaultdict
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow


def hash_rows(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit hash of each row's values in `columns` (nulls hash apart from any value)."""
    # Ideal 64-bit hashes of n distinct rows collide with probability <= n^2 / 2^65 (3e-8 at 1M rows, 3e-6 at 10M).
    table = pyarrow.Table.from_pandas(df[columns], preserve_index=False)
    names = ", ".join(f'"{c}"' for c in table.column_names)
    # DuckDB hashes strings in C over the Arrow buffers: pandas' hash_array spends seconds per million strings.
    with row_hashing() as hashing, hashing.cursor() as con:
        con.register("rows", table)
        return con.sql(f"select hash({names}) as h from rows").fetchnumpy()["h"].astype(np.uint64)


_HASHING: ContextVar[Any] = ContextVar("hc_row_hashing", default=None)


@contextlib.contextmanager
def row_hashing() -> Iterator[Any]:
    """One in-memory DuckDB for the row hashes made in the block (an enclosing block's if any), closed with it."""
    # Opening one costs 12 ms; hashing a small file's rows, 1 ms.
    enclosing = _HASHING.get()
    if enclosing is not None:
        yield enclosing
        return
    import duckdb  # on first use: loading the code location does not import it

    with duckdb.connect() as con:
        token = _HASHING.set(con)
        try:
            yield con
        finally:
            _HASHING.reset(token)


class FirstSeen:
    """The first row of each key met so far: a row repeats when its key came on an earlier row.

    Keys are kept as sorted runs merged like a binary counter, so a batch costs its own size times log(file);
    a batch's new keys are sorted only when a later batch looks them up (never, for a whole file at once).
    """

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._unsorted: tuple[np.ndarray, np.ndarray] | None = None

    def repeats(self, keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Remember this batch's keys at their rows; True where the key first came on an earlier row.

        Batches come in file order and rows rise within a batch; judging a batch again gives the same answer.
        """
        keys = np.asarray(keys, dtype=np.uint64)
        rows = np.asarray(rows, dtype=np.int64)
        repeated = pd.Series(keys).duplicated().to_numpy()
        firsts = np.flatnonzero(~repeated)
        first_keys, first_rows = keys[firsts], rows[firsts]
        known = np.zeros(len(firsts), dtype=bool)
        self._sort_pending()
        # Looked up in key order: probes that move forward through a run are several times faster than random ones.
        order = np.argsort(first_keys) if self._runs else None
        for run_keys, run_rows in self._runs:
            at = np.empty(len(first_keys), dtype=np.intp)
            at[order] = np.searchsorted(run_keys, first_keys[order])
            at = np.minimum(at, len(run_keys) - 1)
            hit = run_keys[at] == first_keys
            known |= hit
            repeated[firsts[hit]] = run_rows[at[hit]] < first_rows[hit]
        if not known.all():
            self._unsorted = (first_keys[~known], first_rows[~known])
        return repeated

    def _sort_pending(self) -> None:
        if self._unsorted is None:
            return
        keys, rows = self._unsorted
        order = np.argsort(keys)
        self._runs.append((keys[order], rows[order]))
        self._unsorted = None
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= 2 * len(self._runs[-1][0]):
            (k1, r1), (k2, r2) = self._runs.pop(), self._runs.pop()
            keys, rows = np.concatenate([k2, k1]), np.concatenate([r2, r1])
            order = np.argsort(keys)
            self._runs.append((keys[order], rows[order]))


def _weighted_median(values: np.ndarray, counts: np.ndarray) -> float:
    """The median of `values` repeated `counts` times (values sorted), as pandas computes it."""
    ends = np.cumsum(counts)
    total = int(ends[-1])
    low, high = np.searchsorted(ends, [(total - 1) // 2, total // 2], side="right")
    return (values[low] + values[high]) / 2


class LosHistograms:
    """Rows per whole-day length of stay per diagnosis: from counts, median, MAD and mean deviation are exact."""

    def __init__(self) -> None:
        self._counts = pd.Series(dtype="int64")
        self._stats: pd.DataFrame | None = None

    def add(self, diagnosis, los: np.ndarray) -> "LosHistograms":
        """Count these stays (whole days) under their diagnoses."""
        if not len(los):
            return self
        codes, names = pd.factorize(diagnosis)
        days = los.astype(np.int64)
        low, span = days.min(), int(days.max() - days.min()) + 1
        pairs, counts = np.unique(codes * span + (days - low), return_counts=True)
        index = pd.MultiIndex.from_arrays([np.asarray(names, dtype=object)[pairs // span], pairs % span + low])
        batch = pd.Series(counts, index=index)
        self._counts = pd.concat([self._counts, batch]).groupby(level=[0, 1]).sum() if len(self._counts) else batch
        self._stats = None
        return self

    def robust_z(self, diagnosis, los: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each stay's group size and robust z-score within its diagnosis (MAD, else mean deviation, scaled)."""
        if not len(los):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        stats = self.stats()
        codes, names = pd.factorize(diagnosis)
        at = stats.index.get_indexer(np.asarray(names, dtype=object))[codes]
        if (at < 0).any():
            raise ValueError("a diagnosis the LOS histograms never counted: feed every batch before judging")
        deviation = np.abs(los - stats["median"].to_numpy()[at])
        scale = stats["scale"].to_numpy()[at]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(scale > 0, deviation / scale, 0.0)
        return stats["size"].to_numpy()[at], z

    def stats(self) -> pd.DataFrame:
        """Size, median and scale of each diagnosis group."""
        if self._stats is None:
            rows = {}
            for diagnosis, counts in self._counts.groupby(level=0, sort=False):
                los = counts.index.get_level_values(1).to_numpy(dtype=float)
                n = counts.to_numpy()
                order = np.argsort(los)
                median = _weighted_median(los[order], n[order])
                deviation = np.abs(los - median)
                order = np.argsort(deviation)
                mad = _weighted_median(deviation[order], n[order])
                mean_ad = (deviation * n).sum() / n.sum()  # multiples of 0.5: the sum is exact, as pandas' is
                rows[diagnosis] = (n.sum(), median, mad / 0.6745 if mad > 0 else 1.253314 * mean_ad)
            self._stats = pd.DataFrame.from_dict(rows, orient="index", columns=["size", "median", "scale"])
        return self._stats


@dataclass
class FileState:
    """One file's cross-row memory: first-seen keys per rule id, the LOS histograms, and each batch's first-pass
    masks from the sweep that counted them (a bit a cell), so the sweep that judges the batch again reuses them."""

    first_seen: defaultdict[str, FirstSeen] = field(default_factory=lambda: defaultdict(FirstSeen))
    los: LosHistograms = field(default_factory=LosHistograms)
    _first_passes: dict[tuple[int, int], tuple[list[str], np.ndarray]] = field(default_factory=dict)

    def remember(self, rows: np.ndarray, masks: dict[str, np.ndarray]) -> None:
        """Keep one batch's first-pass masks, by the batch's first row and length."""
        if len(rows):
            packed = np.packbits(np.column_stack(list(masks.values())), axis=0)
            self._first_passes[(int(rows[0]), len(rows))] = (list(masks), packed)

    def recall(self, rows: np.ndarray) -> dict[str, np.ndarray] | None:
        """The first-pass masks remembered for the batch of these rows, or None."""
        found = self._first_passes.get((int(rows[0]), len(rows))) if len(rows) else None
        if found is None:
            return None
        names, packed = found
        bits = np.unpackbits(packed, axis=0, count=len(rows)).astype(bool)
        return {name: bits[:, i] for i, name in enumerate(names)}
