"""How a rule is declared: id, severity, field, group and description, beside a plain row predicate.

A predicate takes the staged frame and the `Staging` context and returns True where the row passes.
Curation calls predicates directly; `RuleGroup.schema` wraps the same predicates as pandera checks.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import pandas as pd
import pandera.pandas as pa

from hc_pipeline.schemas.file_state import FileState, FirstSeen, KeyLog

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Staging:
    """What rules know beyond the rows: the run date, the columns a file's rows are compared on, its state."""

    run_date: dt.date
    raw_columns: tuple[str, ...] = ()
    # Cross-row rules consult it when a file is judged in batches; without it the frame is the whole file.
    file: FileState | None = None

    def first_seen(self, rule_id: str) -> FirstSeen | KeyLog:
        """The keys `rule_id` met earlier in the file; none when the frame is the whole file."""
        return self.file.keys(rule_id) if self.file else FirstSeen()


Predicate = Callable[[pd.DataFrame, Staging], pd.Series]


@dataclass(frozen=True)
class Rule:
    """One rule id, as stewards see it, and the predicate that judges a staged frame."""

    id: str
    severity: str
    field: str
    description: str
    passes: Predicate
    second_pass: bool = False
    group: str = ""

    def check(self, staging: Staging) -> pa.Check:
        """The rule as a pandera dataframe check on a staged frame."""
        return pa.Check(
            partial(self.passes, staging=staging),
            name=self.id,
            description=self.description,
            raise_warning=self.severity == WARNING,
            ignore_na=False,  # pandera's default passes any row holding a NA
        )


@dataclass(frozen=True)
class RuleGroup:
    """Rules of one category (conformance, completeness, ...): one asset check each."""

    name: str
    description: str
    warn_above: float
    rules: tuple[Rule, ...]

    def schema(self, staging: Staging) -> pa.DataFrameSchema:
        """The group as a pandera schema over the staged frame, e.g. for `validate(staged, lazy=True)`."""
        return pa.DataFrameSchema(
            checks=[rule.check(staging) for rule in self.rules],
            name=self.name,
            description=self.description,
            metadata={"warn_above": self.warn_above},
        )


def rule(id: str, field: str, description: str, warning: bool = False, second_pass: bool = False):
    """Declare a rule from its predicate; second-pass rules also see `_is_<rule>` and `_is_error` columns."""

    def declare(passes: Predicate) -> Rule:
        return Rule(id, WARNING if warning else ERROR, field, description, passes, second_pass)

    return declare


def rule_group(name: str, description: str, warn_above: float, *rules: Rule) -> RuleGroup:
    """A named group of rules; warns when more than `warn_above` of a file's rows break one."""
    return RuleGroup(name, description, warn_above, tuple(replace(r, group=name) for r in rules))


def rules_by_id(groups: tuple[RuleGroup, ...]) -> dict[str, Rule]:
    return {rule.id: rule for group in groups for rule in group.rules}
