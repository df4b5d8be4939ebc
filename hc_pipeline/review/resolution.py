"""How a file's decided exceptions change its curation: corrections re-judged by the same rules, accepts and rejects.

A file's outcome is always computed from its raw records plus the latest decision on each of its exceptions,
so re-running a file gives the same three tables: curated (first-time and resolved), quarantined (open or
rejected) and its exceptions with their status.
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from hc_pipeline.curation.rules import Curation
from hc_pipeline.review.decisions import DECISIONS as DECISION_WORDS

STRING = pd.StringDtype("pyarrow")
EXCEPTIONS_COLUMNS = [
    "exception_id",
    "source_file",
    "source_row",
    "reasons",
    "status",
    "reviewer",
    "decided_at",
    "note",
    "partition_key",
]
Batches = Callable[[], Iterable[pd.DataFrame]]
# keep(batch): the batch's rows curated whatever rules they break (accepted exceptions), or None.
Keep = Callable[[pd.DataFrame], np.ndarray | None]
# curate(batches, keep): one curation per raw batch, in file order; `batches()` gives the same batches each call.
CurateBatches = Callable[[Batches, Keep], Iterator[Curation]]
# Takes one pass's curations as they come (e.g. writes the curated rows); returns what it made of them.
Sink = Callable[[Iterator[Curation]], Any]


def exception_id(source_file: str, version: str, source_row: int) -> str:
    """A stable id for one raw row of one landed file version that reveals nothing of the row."""
    digest = hashlib.sha256(f"{source_file}\x00{version}\x00{int(source_row)}".encode()).hexdigest()
    return f"ex-{digest[:16]}"


def exception_ids(source_file: str, version: str, rows: pd.Series) -> pd.Series:
    return pd.Series([exception_id(source_file, version, r) for r in rows], index=rows.index, dtype=STRING)


def latest_decisions(ledger: pd.DataFrame) -> pd.DataFrame:
    """The last decision on each exception, in the order the decisions files landed (then line order)."""
    if ledger.empty:
        return ledger.set_index("exception_id") if "exception_id" in ledger else ledger
    ordered = ledger.sort_values(["decided_at", "decisions_file", "line"], kind="stable")
    return ordered.drop_duplicates("exception_id", keep="last").set_index("exception_id")


@dataclass(frozen=True)
class Resolved:
    """One file's curation with its decisions applied: what the sink made of the curated rows, the quarantined
    rows and its exceptions."""

    curated: Any
    quarantined: pd.DataFrame
    exceptions: pd.DataFrame


def resolve(
    batches: Batches,
    ledger: pd.DataFrame,
    curate: CurateBatches,
    sink: Sink,
    source_file: str,
    version: str,
    partition_key: str,
) -> Resolved:
    """Curate the batches into `sink`; if the ledger decides any of the file's exceptions, curate again with the
    decisions applied. Only quarantined rows are held, never the whole file."""
    first_parts: list[pd.DataFrame] = []
    made = sink(_passing(curate(batches, lambda batch: None), {}, first_parts))
    first = _joined(first_parts)
    first_rows = first["source_row"].astype(int)
    first_ids = exception_ids(source_file, version, first_rows)
    decisions = _decisions_by_row(latest_decisions(ledger), first_ids, first_rows)
    quarantined = first
    if decisions:
        by_word = {word: {r for r, d in decisions.items() if d["decision"] == word} for word in DECISION_WORDS}
        corrections = {r: decisions[r] for r in by_word["correct"]}

        def edited() -> Iterator[pd.DataFrame]:
            for batch in batches():
                kept = batch[~batch["source_row"].astype(int).isin(by_word["reject"])]
                yield corrected(kept, corrections)

        def accepted(batch: pd.DataFrame) -> np.ndarray:
            return batch["source_row"].astype(int).isin(by_word["accept"]).to_numpy()

        parts: list[pd.DataFrame] = []
        made = sink(_passing(curate(edited, accepted), decisions, parts))
        # Rejected rows stay quarantined for good, as they landed and with the reasons they had.
        rejected = first[first_rows.isin(by_word["reject"]).to_numpy()]
        quarantined = pd.concat([_joined(parts), rejected], ignore_index=True)
        quarantined = quarantined.sort_values("source_row", kind="stable").reset_index(drop=True)
    ids = first_ids if quarantined is first else exception_ids(source_file, version, quarantined["source_row"])
    quarantined = quarantined.assign(exception_id=ids)
    exceptions = _exceptions(first, first_ids, quarantined, decisions, source_file, partition_key)
    return Resolved(made, quarantined, exceptions)


def resolve_frame(
    raw: pd.DataFrame,
    ledger: pd.DataFrame,
    curate: Callable[[pd.DataFrame, np.ndarray | None], Curation],
    source_file: str,
    version: str,
    partition_key: str,
) -> Resolved:
    """`resolve` for a file held whole as one frame: the curated rows come back as a frame."""
    return resolve(lambda: [raw], ledger, whole_file(curate), _collected, source_file, version, partition_key)


def whole_file(curate: Callable[[pd.DataFrame, np.ndarray | None], Curation]) -> CurateBatches:
    """A curation that needs the whole file at once, over batches: one curation of them all."""

    def curate_batches(batches: Batches, keep: Keep) -> Iterator[Curation]:
        parts = list(batches())
        raw = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        yield curate(raw, keep(raw))

    return curate_batches


def _collected(parts: Iterator[Curation]) -> pd.DataFrame:
    return _joined([part.curated for part in parts])


def _passing(parts: Iterator[Curation], decisions: dict[int, dict], quarantined: list[pd.DataFrame]):
    """Each curation with its curated rows' resolutions, keeping its quarantined rows on the way."""
    for part in parts:
        quarantined.append(part.quarantined)
        resolution = _resolutions(part.curated["source_row"], decisions)
        yield replace(part, curated=part.curated.assign(resolution=resolution))


def _joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _decisions_by_row(decided: pd.DataFrame, ids: pd.Series, rows: pd.Series) -> dict[int, dict]:
    """The latest decision on each of this file's exceptions (`ids` at `rows`), by source row."""
    if decided.empty:
        return {}
    mine = ids.isin(decided.index).to_numpy()  # a dict of every exception would cost ~250 bytes a quarantined row
    row_of = dict(zip(ids[mine], rows[mine]))
    return {row_of[e]: d for e, d in decided.to_dict("index").items() if e in row_of}


def corrected(raw: pd.DataFrame, corrections: dict[int, dict]) -> pd.DataFrame:
    """`raw` with each corrected row's raw values replaced by the steward's (blank = null); other columns kept."""
    if not corrections:
        return raw
    position = {int(r): i for i, r in enumerate(raw["source_row"])}
    corrections = {row: decision for row, decision in corrections.items() if row in position}
    if not corrections:
        return raw
    edited = raw.copy()
    for row, decision in corrections.items():
        for column, value in json.loads(decision["raw_values"]).items():
            if column in edited.columns and column not in ("source_file", "source_row"):
                edited.iloc[position[row], edited.columns.get_loc(column)] = pd.NA if value is None else value
    return edited


def _resolutions(rows: pd.Series, decisions: dict[int, dict]) -> pd.Series:
    """Each curated row's resolution (corrected, accepted) or null, looked up for the decided rows only."""
    words = {"correct": "corrected", "accept": "accepted"}
    resolution = pd.Series(pd.NA, index=rows.index, dtype=STRING)
    if decisions:
        decided = rows.astype(int).isin(decisions).to_numpy()
        resolution[decided] = [words.get(decisions[int(r)]["decision"]) for r in rows[decided]]
    return resolution


def _exceptions(
    first: pd.DataFrame,
    first_ids: pd.Series,
    quarantined: pd.DataFrame,
    decisions: dict[int, dict],
    source_file: str,
    partition_key: str,
) -> pd.DataFrame:
    """Every row quarantined at first or now: open and rejected ones are still quarantined, the rest resolved."""
    if not decisions and not first["reasons"].isna().any():
        # Nothing decided yet: each first-time exception is open as it came, built a column at a time.
        records = {
            "exception_id": first_ids,
            "source_file": source_file,
            "source_row": first["source_row"].astype(int),
            "reasons": first["reasons"],
            "status": "open",
            "partition_key": partition_key,
        }
        return _exceptions_frame(pd.DataFrame(records, columns=EXCEPTIONS_COLUMNS), first["reasons"].dtype)
    now = {int(r): reasons for r, reasons in zip(quarantined["source_row"], quarantined["reasons"])}
    now_ids = dict(zip(quarantined["source_row"].astype(int), quarantined["exception_id"]))
    records = []
    for row, eid, reasons in zip(first["source_row"].astype(int), first_ids, first["reasons"]):
        decision = decisions.get(row)
        if row in now:
            status = "rejected" if decision and decision["decision"] == "reject" else "open"
            reasons = now[row]
        elif decision:
            status = {"correct": "corrected", "accept": "accepted"}[decision["decision"]]
        else:
            continue  # passes now that a decided row changed (e.g. it was a copy of a corrected row)
        records.append(_exception(eid, source_file, row, reasons, status, decision, partition_key))
    first_rows = set(first["source_row"].astype(int))  # once: per row it made this loop quadratic
    for row, eid in now_ids.items():
        if row not in first_rows:
            records.append(_exception(eid, source_file, row, now[row], "open", None, partition_key))
    return _exceptions_frame(pd.DataFrame(records, columns=EXCEPTIONS_COLUMNS), first["reasons"].dtype)


def _exceptions_frame(frame: pd.DataFrame, reasons_dtype) -> pd.DataFrame:
    """The exceptions in row order, typed as the table is written."""
    return (
        frame.sort_values("source_row", kind="stable")
        .reset_index(drop=True)
        .astype(
            {
                **{c: STRING for c in ("exception_id", "source_file", "status", "reviewer", "note", "partition_key")},
                "source_row": "int64",
                "decided_at": "datetime64[us]",
                "reasons": reasons_dtype,
            }
        )
    )


def _exception(eid, source_file, row, reasons, status, decision, partition_key) -> dict:
    decision = decision or {}
    return {
        "exception_id": eid,
        "source_file": source_file,
        "source_row": row,
        "reasons": list(reasons) if reasons is not None else [],
        "status": status,
        "reviewer": decision.get("reviewer"),
        "decided_at": decision.get("decided_at"),
        "note": decision.get("note"),
        "partition_key": partition_key,
    }
