"""What the cross-row rules remember of one file while it is judged batch by batch, in file order.

Rows are remembered as 64-bit hashes of the compared values, lengths of stay as per-diagnosis histograms;
a whole file judged at once is the one-batch case.
"""

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow

from hc_pipeline.schemas.key_spill import Spill, rows_of_repeated_keys, spilling_duckdb


def hash_rows(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit hash of each row's values in `columns` (nulls hash apart from any value)."""
    # Ideal 64-bit hashes of n distinct rows collide with probability <= n^2 / 2^65 (3e-8 at 1M rows, 3e-6 at 10M).
    table = pyarrow.Table.from_pandas(df[columns], preserve_index=False)
    names = ", ".join(f'"{c}"' for c in table.column_names)
    # DuckDB hashes strings in C over the Arrow buffers: pandas' hash_array spends seconds per million strings.
    with row_hashing() as hashing, hashing.cursor() as con:
        con.register("rows", table)
        return con.sql(f"select hash({names}) as h from rows").fetchnumpy()["h"].astype(np.uint64)


class _Shared:
    """The block's connection, emptied when the block ends: contexts copied within it keep nothing alive."""

    def __init__(self, con: Any) -> None:
        self.con = con


_HASHING: ContextVar[_Shared | None] = ContextVar("hc_row_hashing", default=None)


@contextlib.contextmanager
def row_hashing() -> Iterator[Any]:
    """One in-memory DuckDB for the row hashes made in the block (an enclosing block's if any), closed with it."""
    # Opening one costs 12 ms; hashing a small file's rows, 1 ms.
    enclosing = _HASHING.get()
    if enclosing is not None and enclosing.con is not None:
        yield enclosing.con
        return
    import duckdb  # on first use: loading the code location does not import it

    with duckdb.connect() as con:
        shared = _Shared(con)
        token = _HASHING.set(shared)
        try:
            yield con
        finally:
            # s3fs runs its calls on an event loop that keeps copies of the caller's context; one still pending
            # after an S3 outage kept the connection alive to the exit, where DuckDB reported it as leaked.
            shared.con = None
            _HASHING.reset(token)


class FirstSeen:
    """The first row of each key met so far: a row repeats when its key came on an earlier row.

    Keys are kept as sorted runs merged like a binary counter, so a batch costs its own size times log(file);
    a batch's new keys are sorted only when a later batch looks them up (never, for a whole file at once).
    """

    def __init__(self, candidates: np.ndarray | None = None) -> None:
        # Rows whose key the file holds more than once, when a counting sweep found them: only those rows
        # can repeat, so only they are hashed and remembered. None: every row.
        self._candidates = candidates
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._unsorted: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        """How many keys are remembered."""
        pending = len(self._unsorted[0]) if self._unsorted else 0
        return pending + sum(len(keys) for keys, _ in self._runs)

    def repeats(self, frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
        """Remember the keys (values in `columns`) of this batch's rows; True where the key came on an earlier row."""
        rows = frame["source_row"].to_numpy(dtype=np.int64)
        if self._candidates is None:
            return self.repeated_keys(hash_rows(frame, columns), rows)
        repeated = np.zeros(len(rows), dtype=bool)
        picked = np.flatnonzero(np.isin(rows, self._candidates, assume_unique=True))
        if len(picked):
            repeated[picked] = self.repeated_keys(hash_rows(frame.iloc[picked], columns), rows[picked])
        return repeated

    def repeated_keys(self, keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Remember these keys at their rows; True where the key first came on an earlier row.

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


class KeyLog:
    """A rule's keys in the sweep that counts a file: written to disk, and no row repeats until they are settled."""

    def __init__(self, path: Path) -> None:
        self._spill = Spill(path)

    def repeats(self, frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
        """Write the keys of this batch's rows; nothing repeats yet."""
        self._spill.write({"key": hash_rows(frame, columns), "row": frame["source_row"].to_numpy(dtype=np.int64)})
        return np.zeros(len(frame), dtype=bool)

    def settled(self, con) -> tuple[FirstSeen, np.ndarray]:
        """The judging sweep's FirstSeen (only rows whose key the file repeats) and the rows that are repeats."""
        found = rows_of_repeated_keys(con, self._spill)
        return FirstSeen(candidates=found["row"]), found["row"][FirstSeen().repeated_keys(found["key"], found["row"])]


def _weighted_median(values: np.ndarray, counts: np.ndarray) -> float:
    """The median of `values` repeated `counts` times (values sorted), as pandas computes it."""
    ends = np.cumsum(counts)
    total = int(ends[-1])
    low, high = np.searchsorted(ends, [(total - 1) // 2, total // 2], side="right")
    return (values[low] + values[high]) / 2


class LosHistograms:
    """Rows per whole-day length of stay per diagnosis: from counts, median, MAD and mean deviation are exact."""

    def __init__(self, spill: Path | None = None) -> None:
        self._counts = pd.Series(dtype="int64")
        self._stats: pd.DataFrame | None = None
        # With a path, each counted stay is also written there with its row, so rows can be taken back out.
        self._spill = Spill(spill) if spill else None

    def add(self, diagnosis, los: np.ndarray, rows: np.ndarray | None = None) -> "LosHistograms":
        """Count these stays (whole days) under their diagnoses; `rows` are theirs when the stays are spilled."""
        if self._spill is not None and len(los):
            self._spill.write({"row": rows, "diagnosis": pd.Series(diagnosis), "los": los.astype(np.int64)})
        return self._count(diagnosis, los.astype(np.int64), np.ones(len(los), dtype=np.int64))

    def discount(self, con, rows: np.ndarray) -> "LosHistograms":
        """Take back out the spilled stays of these rows, found in the spill by DuckDB `con`."""
        if self._spill is None or not self._spill.close() or not len(rows):
            return self
        con.register("discounted", pyarrow.table({"row": np.asarray(rows, dtype=np.int64)}))
        found = con.execute(
            "select diagnosis, los, count(*) as n from read_parquet($path) semi join discounted using (row) group by all",
            {"path": str(self._spill.path)},
        ).fetchdf()
        con.unregister("discounted")
        return self._count(
            found["diagnosis"].to_numpy(dtype=object), found["los"].to_numpy(dtype=np.int64), -found["n"].to_numpy()
        )

    def _count(self, diagnosis, days: np.ndarray, weights: np.ndarray) -> "LosHistograms":
        if not len(days):
            return self
        codes, names = pd.factorize(diagnosis)
        low, span = days.min(), int(days.max() - days.min()) + 1
        pairs, at = np.unique(codes * span + (days - low), return_inverse=True)
        counts = np.bincount(at.ravel(), weights=weights, minlength=len(pairs)).astype(np.int64)
        index = pd.MultiIndex.from_arrays([np.asarray(names, dtype=object)[pairs // span], pairs % span + low])
        batch = pd.Series(counts, index=index)
        counted = pd.concat([self._counts, batch]).groupby(level=[0, 1]).sum() if len(self._counts) else batch
        self._counts = counted[counted != 0]
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
    masks from the sweep that counted them (a bit a cell), so the sweep that judges the batch again reuses them.

    With a `spill` folder, the counting sweep writes the keys there instead (`KeyLog`) and `settle` turns them into
    the judging sweep's small state; masks that hang on those keys are not remembered but judged again.
    """

    spill: Path | None = None
    first_seen: dict[str, FirstSeen | KeyLog] = field(default_factory=dict)
    los: LosHistograms = field(init=False)
    _first_passes: dict[tuple[int, int], tuple[list[str], np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.los = LosHistograms(self.spill / "los.parquet" if self.spill else None)

    def keys(self, rule_id: str) -> FirstSeen | KeyLog:
        """The keys `rule_id` met earlier in the file (a log of them, in a spilled counting sweep)."""
        if rule_id not in self.first_seen:
            self.first_seen[rule_id] = KeyLog(self.spill / f"{rule_id}.parquet") if self.spill else FirstSeen()
        return self.first_seen[rule_id]

    def settle(self, discounted: tuple[str, ...] = ()) -> None:
        """End the counting sweep: key logs become small FirstSeens; `discounted` rules' repeats leave the LOS counts."""
        logs = {rule_id: keys for rule_id, keys in self.first_seen.items() if isinstance(keys, KeyLog)}
        if not logs:
            return
        with spilling_duckdb(self.spill) as con:
            for rule_id, log in logs.items():
                self.first_seen[rule_id], repeated = log.settled(con)
                if rule_id in discounted:
                    self.los.discount(con, repeated)
        self.spill = None  # settled: the folder may go, and a rule met only from now on keeps its keys in memory

    def remember(self, rows: np.ndarray, masks: dict[str, np.ndarray]) -> None:
        """Keep one batch's first-pass masks, by the batch's first row and length (not those a key log answered)."""
        kept = {name: mask for name, mask in masks.items() if not isinstance(self.first_seen.get(name), KeyLog)}
        if len(rows) and kept:
            packed = np.packbits(np.column_stack(list(kept.values())), axis=0)
            self._first_passes[(int(rows[0]), len(rows))] = (list(kept), packed)

    def recall(self, rows: np.ndarray) -> dict[str, np.ndarray] | None:
        """The first-pass masks remembered for the batch of these rows, or None."""
        found = self._first_passes.get((int(rows[0]), len(rows))) if len(rows) else None
        if found is None:
            return None
        names, packed = found
        bits = np.unpackbits(packed, axis=0, count=len(rows)).astype(bool)
        return {name: bits[:, i] for i, name in enumerate(names)}
