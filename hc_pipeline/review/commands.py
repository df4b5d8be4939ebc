"""`hc-pipeline review export|apply`: the open exceptions out to a CSV, a steward's decisions into the landing zone."""

import sys
from pathlib import Path

from hc_pipeline.review.decisions import (
    KNOWN_COLUMNS,
    LEDGER_COLUMNS,
    judge_with_state,
    read_decisions,
    with_reviewer,
)
from hc_pipeline.review.export import open_exceptions
from hc_pipeline.review.lake import read_parquet_folder
from hc_pipeline.review.landing import decisions_key


def _resources() -> dict:
    from hc_pipeline.deployment import build_resources  # the storage root and landing zone of this deployment

    return build_resources()


def export_open_exceptions(domain: str, out: Path, source_file: str | None) -> int:
    """Write one line per open exception; a header-only file when there is none."""
    rows = open_exceptions(_resources()["storage"].path("lake"), domain, source_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out, index=False)
    where = f" of {source_file}" if source_file else ""
    print(f"{len(rows)} open {domain} exception(s){where} -> {out}")
    if len(rows):
        print(
            "fill in decision (correct | accept | reject) and note, then: "
            f"hc-pipeline review apply {domain} {out} --reviewer NAME"
        )
    return 0


def apply_decisions(domain: str, path: Path, reviewer: str) -> int:
    """Check the file against the exceptions now, then land it; the next run judges it again and applies it."""
    if not reviewer.strip():
        print("hc-pipeline review apply: --reviewer is blank", file=sys.stderr)
        return 2
    data = with_reviewer(path.read_bytes(), reviewer.strip())
    resources = _resources()
    storage = resources["storage"]
    judged, _ = judge_with_state(
        read_decisions(data),
        read_parquet_folder(storage.path("lake", domain, "exceptions"), KNOWN_COLUMNS),
        read_parquet_folder(storage.path("lake", domain, "decisions"), LEDGER_COLUMNS),
        "",
        domain,
    )
    if not judged.valid:
        for problem in judged.problems:
            print(f"hc-pipeline review apply: {path}: {problem}", file=sys.stderr)
        print(f"{path}: refused whole, nothing landed ({len(judged.problems)} problem(s))", file=sys.stderr)
        return 2
    if judged.lines.empty:
        print(f"{path}: no line has a decision (correct, accept or reject); nothing landed", file=sys.stderr)
        return 2
    obj = resources["landing"].put(decisions_key(domain, path.name), data)
    counts = judged.lines["decision"].value_counts().to_dict()
    summary = ", ".join(f"{counts.get(w, 0)} {w}" for w in ("correct", "accept", "reject"))
    print(f"landed {obj.key} ({summary}) -> {resources['landing'].uri(obj.key)}")
    print("the next `hc-pipeline run` (or the decisions sensor) applies it")
    return 0
