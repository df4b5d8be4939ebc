"""The numbers of a domain's quality report, read from the lake tables through the query engine.

Only counts leave the engine: files, rows, rule ids. No identifier or value reaches the report.
"""

from dataclasses import dataclass, field

from hc_pipeline.checks.builders import group_passes
from hc_pipeline.partitions import DOMAINS
from hc_pipeline.resources.query_engine import QueryEngine
from hc_pipeline.schemas import facilities, patients
from hc_pipeline.schemas.rules import RuleGroup

RULE_GROUPS = {"patients": patients.RULE_GROUPS, "facilities": facilities.RULE_GROUPS}
RULES = {"patients": patients.RULES, "facilities": facilities.RULES}


@dataclass(frozen=True)
class GroupResult:
    """One WARN check on one file, recomputed from the rule ids its rows carry."""

    failing_rows: int
    share: float
    passed: bool


@dataclass
class FileQuality:
    """One landed file: its rows and what the checks make of them."""

    source_file: str
    landed: int = 0
    curated: int = 0
    quarantined: int = 0
    rows_with_warnings: int = 0
    checks: dict[str, GroupResult] = field(default_factory=dict)
    rule_rows: dict[str, int] = field(default_factory=dict)

    @property
    def conserved(self) -> bool:
        return self.landed == self.curated + self.quarantined


@dataclass
class DomainQuality:
    """Everything one domain's report shows."""

    domain: str
    groups: tuple[RuleGroup, ...]
    files: list[FileQuality]
    rule_rows: dict[str, int]  # rule id -> rows breaking it, all files
    open_by_reason: dict[str, int]  # rule id -> quarantined rows carrying it


def _counts(engine: QueryEngine, sql: str) -> list[tuple]:
    return list(engine.query(sql).itertuples(index=False, name=None))


def domain_quality(engine: QueryEngine, domain: str) -> DomainQuality:
    """Files, per-rule counts and open exceptions of one domain."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}: expected one of {', '.join(DOMAINS)}")
    groups = RULE_GROUPS[domain]
    tables = set(engine.tables())
    raw, curated, quarantined = (
        f"{domain}_{name}" for name in ("raw_records", "curated_records", "quarantined_records")
    )
    files: dict[str, FileQuality] = {}
    if raw not in tables:
        return DomainQuality(domain, groups, [], {}, {})

    def per_file(table: str, attribute: str) -> None:
        if table in tables:
            for source_file, rows in _counts(engine, f"SELECT source_file, count(*) FROM {table} GROUP BY source_file"):
                setattr(files.setdefault(source_file, FileQuality(source_file)), attribute, int(rows))

    per_file(raw, "landed")
    per_file(curated, "curated")
    per_file(quarantined, "quarantined")
    # Rows grouped by the set of rules they broke: few distinct sets, whatever the row count.
    combos: list[tuple[str, str, frozenset[str], int]] = []
    for table, column, kind in ((quarantined, "reasons", "quarantined"), (curated, "warnings", "curated")):
        if table not in tables:
            continue
        sql = (
            f"SELECT source_file, array_join(array_sort({column}), ',') AS rules, count(*) AS n FROM {table} "
            f"WHERE cardinality({column}) > 0 GROUP BY source_file, array_join(array_sort({column}), ',')"
        )
        combos += [(f, kind, frozenset(r.split(",")), int(n)) for f, r, n in _counts(engine, sql)]

    rule_rows: dict[str, int] = {}
    open_by_reason: dict[str, int] = {}
    for source_file, kind, rules, n in combos:
        quality = files.setdefault(source_file, FileQuality(source_file))
        if kind == "curated":
            quality.rows_with_warnings += n
        for rule_id in rules:
            quality.rule_rows[rule_id] = quality.rule_rows.get(rule_id, 0) + n
            rule_rows[rule_id] = rule_rows.get(rule_id, 0) + n
            if kind == "quarantined":
                open_by_reason[rule_id] = open_by_reason.get(rule_id, 0) + n
    for quality in files.values():
        for group in groups:
            ids = {r.id for r in group.rules}
            failing = sum(n for f, _, rules, n in combos if f == quality.source_file and rules & ids)
            share = failing / quality.landed if quality.landed else 0.0
            quality.checks[group.name] = GroupResult(failing, share, group_passes(group, failing, quality.landed))
    return DomainQuality(domain, groups, sorted(files.values(), key=lambda q: q.source_file), rule_rows, open_by_reason)
