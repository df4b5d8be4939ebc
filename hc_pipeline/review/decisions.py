"""A steward's decisions file: read it, judge every line against the exceptions, refuse it whole if one is wrong."""

import csv
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from hc_pipeline.checks.masking import mask_id

DECISIONS = ("correct", "accept", "reject")
NOTE_REQUIRED = ("accept", "reject")
STATUSES = ("open", "corrected", "accepted", "rejected")
EXPORT_COLUMNS = ["exception_id", "source_file", "source_row", "reasons", "decision", "note"]
REVIEWER = "reviewer"
# Columns of the export that are not raw values: a correction never edits them.
NOT_VALUES = frozenset([*EXPORT_COLUMNS, REVIEWER])
LEDGER_COLUMNS = [
    "decisions_file",
    "line",
    "exception_id",
    "source_file",
    "source_row",
    "decision",
    "note",
    "reviewer",
    "decided_at",
    "raw_values",
]
KNOWN_COLUMNS = ["exception_id", "source_file", "source_row", "status", "partition_key"]
EXCEPTION_ID = re.compile(r"^ex-[0-9a-f]{16}$")
ValueCheck = Callable[[str], str | None]


@dataclass(frozen=True)
class Problem:
    """Why one line (or the file, line 0) of a decisions file is refused."""

    line: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        shown = f" {self.value!r}" if self.value else ""
        return f"{where}: {self.column}{shown}: {self.message}"


@dataclass(frozen=True)
class DecisionsFile:
    """The decided lines of one decisions file (blank decisions are skipped) and every problem found."""

    lines: pd.DataFrame
    problems: list[Problem]

    @property
    def valid(self) -> bool:
        return not self.problems


def shown(column: str, value: str) -> str:
    """A value safe to print: exception ids and decision words as typed, anything else as a keyed hash."""
    if column == "decision" or (column == "exception_id" and EXCEPTION_ID.match(value)):
        return value[:40]
    if column == "source_row" and value.isdigit():
        return value[:40]
    return mask_id(value, "value")


def read_decisions(data: bytes) -> DecisionsFile:
    """Parse a decisions CSV: `exception_id, decision, note`, a `reviewer`, and any raw value columns."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return DecisionsFile(_empty(), [Problem(0, "encoding", "", f"not UTF-8 text ({error.reason})")])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        return DecisionsFile(_empty(), [Problem(1, "header", "", "no header line")])
    missing = [c for c in ("exception_id", "decision", "note", REVIEWER) if c not in header]
    if missing:
        return DecisionsFile(_empty(), [Problem(1, "header", "", f"columns missing: {', '.join(missing)}")])
    rows, problems, line = [], [], reader.line_num
    while True:
        start = line + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(Problem(start, "record", "", f"not a CSV record ({error})"))
            break
        line = reader.line_num
        if not any(field.strip() for field in record):
            continue
        if len(record) != len(header):
            problems.append(Problem(start, "record", f"{len(record)} fields", f"the header has {len(header)}"))
            continue
        values = {name: (value.strip() or None) for name, value in zip(header, record)}
        rows.append({"line": start, **values})
    frame = pd.DataFrame(rows, columns=["line", *dict.fromkeys(header)])
    return DecisionsFile(frame, problems)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["line", "exception_id", "decision", "note", REVIEWER])


def judge(
    parsed: DecisionsFile,
    exceptions: pd.DataFrame,
    closed_by_ledger: frozenset[str] = frozenset(),
    value_checks: Mapping[str, ValueCheck] | None = None,
) -> DecisionsFile:
    """Every problem of every decided line against the current `exceptions` (exception_id, source_file,
    source_row, status); lines whose decision is blank are not decisions and are dropped."""
    problems = list(parsed.problems)
    known = exceptions.set_index("exception_id") if len(exceptions) else None
    value_columns = [c for c in parsed.lines.columns if c not in NOT_VALUES and c != "line"]
    decided, seen = [], {}
    for row in parsed.lines.to_dict("records"):
        line = row["line"]
        word = (row.get("decision") or "").lower()
        if not word:
            continue
        found = _line_problems(row, word, known, closed_by_ledger, seen, value_columns, value_checks or {})
        problems += found
        if not found:
            seen[row["exception_id"]] = line
            decided.append({**row, "decision": word})
    lines = pd.DataFrame(decided, columns=parsed.lines.columns)
    return DecisionsFile(lines, problems)


def _line_problems(row, word, known, closed_by_ledger, seen, value_columns, value_checks) -> list[Problem]:
    line, exception = row["line"], row.get("exception_id") or ""
    if word not in DECISIONS:
        return [Problem(line, "decision", shown("decision", word), "is not one of correct, accept, reject")]
    if not exception:
        return [Problem(line, "exception_id", "", "is blank")]
    if known is None or exception not in known.index:
        return [Problem(line, "exception_id", shown("exception_id", exception), "is not an exception of this domain")]
    if exception in seen:
        return [Problem(line, "exception_id", exception, f"is decided again (first on line {seen[exception]})")]
    status = known.at[exception, "status"]
    if status != "open" or exception in closed_by_ledger:
        closed = status if status != "open" else "decided by an earlier decisions file"
        return [Problem(line, "exception_id", exception, f"is already closed ({closed})")]
    problems = []
    if word in NOTE_REQUIRED and not row.get("note"):
        problems.append(Problem(line, "note", "", f"is required to {word}"))
    if not row.get(REVIEWER):
        problems.append(Problem(line, REVIEWER, "", "is blank (`hc-pipeline review apply --reviewer` sets it)"))
    for column, expected in (("source_file", known.at[exception, "source_file"]), ("source_row", None)):
        given = row.get(column)
        if given is None:
            continue
        if column == "source_row":
            expected = str(int(known.at[exception, "source_row"]))
            if not given.isdigit():
                problems.append(Problem(line, column, shown(column, given), "is not a row number"))
                continue
        if given != expected:
            problems.append(Problem(line, column, shown(column, given), f"is not the exception's ({expected})"))
    if word == "correct":
        for column in value_columns:
            check = value_checks.get(column)
            message = check(row[column]) if check and row.get(column) is not None else None
            if message:
                problems.append(Problem(line, column, "", message))
    return problems


def ledger_rows(judged: DecisionsFile, decisions_file: str, decided_at: pd.Timestamp) -> pd.DataFrame:
    """The decided lines as the decisions ledger stores them; a correction keeps its raw values as JSON."""
    value_columns = [c for c in judged.lines.columns if c not in NOT_VALUES and c != "line"]
    rows = [
        {
            "decisions_file": decisions_file,
            "line": int(row["line"]),
            "exception_id": row["exception_id"],
            "source_file": row.get("source_file"),
            "source_row": None if row.get("source_row") is None else int(row["source_row"]),
            "decision": row["decision"],
            "note": row.get("note"),
            "reviewer": row.get(REVIEWER),
            "decided_at": decided_at,
            "raw_values": json.dumps({c: row.get(c) for c in value_columns}) if row["decision"] == "correct" else None,
        }
        for row in judged.lines.to_dict("records")
    ]
    frame = pd.DataFrame(rows, columns=LEDGER_COLUMNS)
    return frame.astype(
        {
            **{c: "string[pyarrow]" for c in LEDGER_COLUMNS if c not in ("line", "source_row", "decided_at")},
            "line": "int64",
            "source_row": "Int64",
            "decided_at": "datetime64[us]",
        }
    )


def judge_with_state(
    parsed: DecisionsFile, known: pd.DataFrame, ledger: pd.DataFrame, decisions_file: str, domain: str
) -> tuple[DecisionsFile, list[str]]:
    """Judge against the exceptions (`KNOWN_COLUMNS`) and the ledger of earlier files; also the file partitions
    the decided lines touch."""
    own = set(ledger.loc[ledger["decisions_file"] == decisions_file, "exception_id"])
    if own:  # a re-run of this file: what it closed itself is open to it again
        known = known.assign(status=known["status"].where(~known["exception_id"].isin(own), "open"))
    earlier = ledger[(ledger["decisions_file"] != decisions_file) & ledger["decision"].isin(NOTE_REQUIRED)]
    judged = judge(parsed, known, frozenset(earlier["exception_id"]), VALUE_CHECKS.get(domain))
    decided = set(judged.lines["exception_id"]) if len(judged.lines) else set()
    affected = sorted(set(known.loc[known["exception_id"].isin(decided), "partition_key"]))
    return judged, affected


def with_reviewer(data: bytes, reviewer: str) -> bytes:
    """The decisions CSV with its `reviewer` column set to `reviewer` on every line (added when missing)."""
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return data
    header = [h.strip() for h in rows[0]]
    at = header.index(REVIEWER) if REVIEWER in header else None
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header if at is not None else [*header, REVIEWER])
    for row in rows[1:]:
        if not any(field.strip() for field in row):
            writer.writerow(row)
        elif at is None:
            writer.writerow([*row, reviewer] if len(row) == len(header) else row)
        else:
            writer.writerow([*row[:at], reviewer, *row[at + 1 :]] if len(row) == len(header) else row)
    return out.getvalue().encode("utf-8")


def json_object(text: str) -> str | None:
    """A facilities correction's `record_json` must be one JSON object."""
    try:
        value = json.loads(text)
    except ValueError as error:
        return f"is not valid JSON ({error})"
    return None if isinstance(value, dict) else "is not a JSON object"


def problems_markdown(problems: list[Problem], limit: int = 50) -> str:
    """The refused lines as a markdown table (values already made safe to show)."""
    if not problems:
        return "No problems."
    lines = ["| line | column | value | problem |", "|---|---|---|---|"]
    lines += [f"| {p.line or 'file'} | {p.column} | {p.value} | {p.message} |" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"| … | | | {len(problems) - limit} more |")
    return "\n".join(lines)


VALUE_CHECKS: dict[str, dict[str, ValueCheck]] = {"facilities": {"record_json": json_object}}
