"""Figures as `{name, value, unit}` entries, written to bench/results/latest.json and latest.md."""

import datetime as dt
import json
import os
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


class Figures:
    """The entries of one benchmark group, with a line of explanation each for the table."""

    def __init__(self, group: str):
        self.group = group
        self.entries: list[dict] = []
        self.notes: list[str] = []

    def add(self, name: str, value, unit: str, what: str = "") -> None:
        if isinstance(value, float):
            value = round(value, 4 if abs(value) < 10 else 2)
        self.entries.append({"name": name, "value": value, "unit": unit, "group": self.group, "what": what})

    def note(self, text: str) -> None:
        self.notes.append(text)


# (entry name, comparison, limit, label) for the targets of issue 6
TARGETS = [
    ("p1_a_over_b", "<=", 2.0, "P1 1M rows: hc_pipeline wall / DuckDB wall"),
    ("p1_c_over_a", ">=", 5.0, "P1 1M rows: Lambda-style wall / hc_pipeline wall"),
    ("p1_a_rss_over_csv", "<=", 3.0, "P1 1M rows: peak RSS growth of (a) / CSV size"),
    ("p1_5m_a_completed", ">=", 1, "P1 5M rows completes within 24 GiB"),
    ("small_files_per_file_overhead_s", "<=", 1.0, "Small files: per-file overhead of `hc-pipeline run`"),
    ("sensor_100k_nothing_new_s", "<=", 5.0, "Sensor: tick over 100,000 objects with nothing new"),
    ("fast_query_select_1_s", "<=", 0.5, '`hc-pipeline query "select 1"` wall (issue 15)'),
    ("fast_ingest_small_s", "<=", 0.5, "`hc-pipeline ingest` of a small file wall (issue 15)"),
    ("landing_list_again_bytes_read", "<=", 0, "Local listing of 10,000 files, nothing new: bytes read (issue 15)"),
    ("latency_event_total_s", "<=", 10.0, "Upload to materialized, event mode, default settings (issue 12)"),
    ("latency_listing_total_s", "<=", 15.0, "Upload to materialized, listing mode, default settings (issue 12)"),
]


def merge(previous: list[dict], fresh: list[Figures]) -> list[dict]:
    """Fresh groups replace the same groups of the last run; groups not run this time are kept."""
    replaced = {f.group for f in fresh}
    kept = [e for e in previous if e.get("group") not in replaced]
    return kept + [e for f in fresh for e in f.entries]


def load_previous() -> tuple[list[dict], dict]:
    """The last run's entries and, per group, when and how it was measured."""
    figures, runs = RESULTS / "latest.json", RESULTS / "runs.json"
    entries = json.loads(figures.read_text()) if figures.exists() else []
    return entries, json.loads(runs.read_text())["runs"] if runs.exists() else {}


def write(entries: list[dict], runs: dict, machine: dict) -> None:
    """latest.json (a list of {name, value, unit} entries, plus group and description) and latest.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    _atomic(RESULTS / "latest.json", json.dumps(entries, indent=1) + "\n")
    _atomic(RESULTS / "runs.json", json.dumps({"runs": runs, "machine": machine}, indent=1) + "\n")
    _atomic(RESULTS / "latest.md", markdown(entries, runs, machine))


def _atomic(path: Path, text: str) -> None:
    partial = path.with_suffix(path.suffix + ".tmp")
    partial.write_text(text)
    os.replace(partial, path)


def _value(entry: dict) -> str:
    value = entry["value"]
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def target_rows(entries: list[dict]) -> list[str]:
    by_name = {e["name"]: e for e in entries}
    rows = ["| target | figure | measured | limit | met |", "|---|---|---|---|---|"]
    for name, op, limit, label in TARGETS:
        entry = by_name.get(name)
        if entry is None or not isinstance(entry["value"], (int, float)):
            rows.append(f"| {label} | `{name}` | not measured | {op} {limit} | - |")
            continue
        met = entry["value"] <= limit if op == "<=" else entry["value"] >= limit
        rows.append(f"| {label} | `{name}` | {_value(entry)} | {op} {limit} | {'yes' if met else '**no**'} |")
    return rows


def markdown(entries: list[dict], runs: dict, machine: dict) -> str:
    lines = [
        "# hc_pipeline benchmarks: latest figures",
        "",
        f"Machine: {machine['cores']} cores, {machine['memory_gib']} GiB memory ({machine['cpu']}), "
        f"Python {machine['python']}; " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()) + ".",
        "",
        "Written by `make bench` (`python -m bench`). Each measured piece runs in a fresh process; walls are medians "
        "of the runs noted per group, and every ratio compares pieces measured in the same run.",
        "",
        "## Targets (issue 6)",
        "",
        *target_rows(entries),
        "",
    ]
    groups = list(dict.fromkeys(e.get("group", "") for e in entries))
    for group in groups:
        run = runs.get(group, {})
        lines += [
            f"## {group}",
            "",
            f"Measured {run.get('date', '?')}." + (f" {run['how']}" if run.get("how") else ""),
            "",
        ]
        lines += ["| figure | value | unit | what |", "|---|---:|---|---|"]
        lines += [
            f"| `{e['name']}` | {_value(e)} | {e['unit']} | {e.get('what', '')} |"
            for e in entries
            if e.get("group", "") == group
        ]
        lines += [""] + [f"- {n}" for n in run.get("notes", [])] + [""]
    return "\n".join(lines).rstrip() + "\n"


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
