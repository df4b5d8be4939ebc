"""Asset check specs and results built from pandera rule groups: what stewards review in the UI."""

import warnings

import dagster as dg
import pandas as pd

from hc_pipeline.checks.masking import mask_id
from hc_pipeline.schemas.rules import ERROR, RuleGroup

OWNERS = ["team:data-stewards"]
SAMPLE_ROWS = 5


def spec(
    asset_key: dg.AssetKey,
    name: str,
    description: str,
    category: str,
    blocking: bool = False,
    partitions_def: dg.PartitionsDefinition | None = None,
) -> dg.AssetCheckSpec:
    """A check spec with the category and owners stewards filter on; per-file checks share their asset's partitions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned checks are preview in 1.13: chosen knowingly
        return dg.AssetCheckSpec(
            name=name,
            asset=asset_key,
            description=description,
            blocking=blocking,
            metadata={"category": category, "owners": ", ".join(OWNERS), "blocking": blocking},
            # Each evaluation then belongs to its file: the UI shows per-file results instead of the last file's.
            partitions_def=partitions_def,
        )


def group_specs(
    asset_key: dg.AssetKey, groups: tuple[RuleGroup, ...], partitions_def: dg.PartitionsDefinition | None = None
) -> list[dg.AssetCheckSpec]:
    """One WARN check per rule group."""
    return [
        spec(
            asset_key,
            group.name,
            f"{group.description} Rules: {', '.join(r.id for r in group.rules)}. "
            f"Warns when more than {group.warn_above:.0%} of the file's rows break one. "
            "Errors are already quarantined; open quarantined_records and anomaly_report to see which rows, "
            "fix the source file and land it again.",
            group.name,
            partitions_def=partitions_def,
        )
        for group in groups
    ]


def group_result(
    asset_key: dg.AssetKey, group: RuleGroup, masks: pd.DataFrame, rows: pd.DataFrame, id_column: str
) -> dg.AssetCheckResult:
    """The WARN result of one rule group over one file's rows; `rows` holds `source_row` and the id."""
    ids = [r.id for r in group.rules]
    hits = masks[ids]
    failing = hits.any(axis=1)
    total = len(masks)
    count = int(failing.sum())
    share = count / total if total else 0.0
    per_rule = {rule_id: int(hits[rule_id].sum()) for rule_id in ids}
    quarantined = int(hits[[r.id for r in group.rules if r.severity == ERROR]].any(axis=1).sum())
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=group.name,
        passed=group_passes(group, count, total),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failing_rows": count,
            "failing_share": float(round(share, 6)),
            "quarantined_rows": quarantined,
            "threshold": group.warn_above,
            **{f"rule/{rule_id}": n for rule_id, n in per_rule.items()},
            "sample": dg.MetadataValue.md(failing_sample(hits, rows, id_column)),
        },
    )


def group_passes(group: RuleGroup, failing_rows: int, total_rows: int) -> bool:
    """A rule group's WARN check passes while the share of rows breaking any of its rules is within its threshold."""
    return (failing_rows / total_rows if total_rows else 0.0) <= group.warn_above


def failing_sample(hits: pd.DataFrame, rows: pd.DataFrame, id_column: str, limit: int = SAMPLE_ROWS) -> str:
    """A markdown table of a few failing rows: row number, masked identifier, rules broken."""
    failing = hits.index[hits.any(axis=1)][:limit]
    if len(failing) == 0:
        return "No failing rows."
    lines = [f"| source_row | {id_column} (masked) | rules |", "|---|---|---|"]
    for index in failing:
        broken = ", ".join(c for c in hits.columns if hits.at[index, c])
        lines.append(f"| {rows.at[index, 'source_row']} | {mask_id(rows.at[index, id_column])} | {broken} |")
    return "\n".join(lines)
