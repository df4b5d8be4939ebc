"""Turn pandera rule groups into per-row findings: one boolean mask per rule id, computed once."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow

ERROR, WARNING = "error", "warning"
REASONS_DTYPE = pd.ArrowDtype(pyarrow.list_(pyarrow.string()))


def rule(name: str, field: str, description: str, warning: bool = False, second_pass: bool = False):
    """Declare a rule in a pandera model: a dataframe check named by rule id, True where the row passes."""
    return pa.dataframe_check(
        name=name,
        description=description,
        raise_warning=warning,
        ignore_na=False,  # pandera's default passes any row holding a NA
        statistics={"field": field, "second_pass": second_pass},
    )


@dataclass(frozen=True)
class Rule:
    """One rule id, as stewards see it."""

    id: str
    severity: str
    field: str
    group: str
    description: str
    second_pass: bool
    check: pa.Check


@dataclass(frozen=True)
class RuleGroup:
    """A pandera model whose checks are rules of one category (conformance, completeness, ...)."""

    name: str
    description: str
    warn_above: float
    rules: tuple[Rule, ...]


def rule_group(model: type[pa.DataFrameModel]) -> RuleGroup:
    """Read a rule group from a pandera model: check name = rule id, `raise_warning` = warning."""
    config = model.Config
    rules = tuple(
        Rule(
            id=check.name,
            severity=WARNING if check.raise_warning else ERROR,
            field=(check.statistics or {}).get("field", ""),
            group=config.title,
            description=check.description or "",
            second_pass=bool((check.statistics or {}).get("second_pass")),
            check=check,
        )
        for check in model.to_schema().checks
    )
    return RuleGroup(config.title, config.description, config.metadata["warn_above"], rules)


def evaluate(staged: pd.DataFrame, groups: tuple[RuleGroup, ...]) -> pd.DataFrame:
    """A boolean frame, one column per rule id, True where the row breaks the rule.

    Second-pass rules see the first pass as `_is_<rule>` columns and `_is_error`.
    """
    rules = [rule for group in groups for rule in group.rules]
    masks = {}
    for rule in (r for r in rules if not r.second_pass):
        masks[rule.id] = _failures(rule, staged)
    first_pass = pd.DataFrame(
        {
            "_is_error": np.logical_or.reduce(
                [masks[r.id] for r in rules if r.id in masks and r.severity == ERROR]
                or [np.zeros(len(staged), dtype=bool)]
            ),
            **{f"_is_{rule_id}": mask for rule_id, mask in masks.items()},
        },
        index=staged.index,
    )
    first = _beside(staged, first_pass)
    for rule in (r for r in rules if r.second_pass):
        masks[rule.id] = _failures(rule, first)
    return pd.DataFrame({r.id: masks[r.id] for r in rules}, index=staged.index)


def _beside(staged: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """`staged.assign(**extra)` without copying (and consolidating) the staged columns."""
    if staged.columns.intersection(extra.columns).size:
        return staged.assign(**extra)
    joined = pd.concat([staged, extra], axis=1, copy=False)
    joined.attrs = dict(staged.attrs)
    return joined


def _failures(rule: Rule, frame: pd.DataFrame) -> np.ndarray:
    # The check's function alone: calling the pandera Check would also copy every failing row of
    # every column as "failure cases", which the masks do not need (a third of the time on 1M rows).
    check_fn = getattr(rule.check, "_check_fn", None)
    passed = check_fn(frame) if check_fn is not None else rule.check(frame).check_output
    return ~np.asarray(pd.Series(passed).fillna(False), dtype=bool)


def reasons_column(masks: pd.DataFrame) -> pd.Series:
    """Each row's rule ids in rule order, as an Arrow list column."""
    values = masks.to_numpy(dtype=bool)
    _, cols = np.nonzero(values)
    offsets = np.concatenate([[0], np.cumsum(values.sum(axis=1))]).astype(np.int32)
    names = pyarrow.array(np.asarray(masks.columns, dtype=object)[cols], type=pyarrow.string())
    lists = pyarrow.ListArray.from_arrays(pyarrow.array(offsets), names)
    return pd.Series(pd.arrays.ArrowExtensionArray(lists), index=masks.index, dtype=REASONS_DTYPE)


@dataclass(frozen=True)
class Curation:
    """What curation makes of one file's raw records."""

    curated: pd.DataFrame
    quarantined: pd.DataFrame
    masks: pd.DataFrame
    keys: pd.DataFrame  # source_row and the identifier, aligned with masks

    def conserved(self, raw_rows: int) -> bool:
        return len(self.curated) + len(self.quarantined) == raw_rows
