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


class RuleTally:
    """What a file's rule masks tell its group checks, gathered batch by batch: counts, and a few failing rows."""

    def __init__(self, groups: tuple[RuleGroup, ...], id_column: str):
        self.groups, self.id_column = groups, id_column
        self.rows = 0
        self.per_rule: dict[str, int] = {r.id: 0 for g in groups for r in g.rules}
        self.failing = {g.name: 0 for g in groups}
        self.quarantined = {g.name: 0 for g in groups}
        self.samples: dict[str, list[str]] = {g.name: [] for g in groups}

    def add(self, masks: pd.DataFrame, rows: pd.DataFrame) -> None:
        """Count one batch's masks; `rows` holds its `source_row` and the id, aligned with the masks."""
        self.rows += len(masks)
        for group in self.groups:
            ids = [r.id for r in group.rules]
            hits = masks[ids]
            failing = hits.any(axis=1)
            self.failing[group.name] += int(failing.sum())
            self.quarantined[group.name] += int(
                hits[[r.id for r in group.rules if r.severity == ERROR]].any(axis=1).sum()
            )
            for rule_id in ids:
                self.per_rule[rule_id] += int(hits[rule_id].sum())
            sample = self.samples[group.name]
            for index in hits.index[failing][: SAMPLE_ROWS - len(sample)]:
                broken = ", ".join(c for c in hits.columns if hits.at[index, c])
                sample.append(
                    f"| {rows.at[index, 'source_row']} | {mask_id(rows.at[index, self.id_column])} | {broken} |"
                )


def group_result(asset_key: dg.AssetKey, group: RuleGroup, tally: RuleTally) -> dg.AssetCheckResult:
    """The WARN result of one rule group over one file's rows."""
    count, total = tally.failing[group.name], tally.rows
    share = count / total if total else 0.0
    sample = tally.samples[group.name]
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=group.name,
        passed=group_passes(group, count, total),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failing_rows": count,
            "failing_share": float(round(share, 6)),
            "quarantined_rows": tally.quarantined[group.name],
            "threshold": group.warn_above,
            **{f"rule/{r.id}": tally.per_rule[r.id] for r in group.rules},
            "sample": dg.MetadataValue.md(
                "\n".join([f"| source_row | {tally.id_column} (masked) | rules |", "|---|---|---|", *sample])
                if sample
                else "No failing rows."
            ),
        },
    )


def group_passes(group: RuleGroup, failing_rows: int, total_rows: int) -> bool:
    """A rule group's WARN check passes while the share of rows breaking any of its rules is within its threshold."""
    return (failing_rows / total_rows if total_rows else 0.0) <= group.warn_above
