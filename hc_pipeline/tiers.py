"""Expiry tiers, defined once: the SQL reads them as a generated CASE, Python reads the names and labels."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    """A tier holds accreditations with `days_to_expiry` up to `max_days` (None: up to the horizon)."""

    name: str
    max_days: int | None


TIERS = (Tier("expired", -1), Tier("critical", 30), Tier("high", 60), Tier("medium", 90), Tier("upcoming", None))
TIER_NAMES = tuple(tier.name for tier in TIERS)


def tier_labels() -> dict[str, str]:
    """Each tier with its day range, e.g. `critical (0-30 days)`, as people read it."""
    labels, floor = {}, None
    for tier in TIERS:
        if floor is None:
            labels[tier.name] = tier.name
        elif tier.max_days is None:
            labels[tier.name] = f"{tier.name} (over {floor - 1} days)"
        else:
            labels[tier.name] = f"{tier.name} ({floor}-{tier.max_days} days)"
        floor = None if tier.max_days is None else tier.max_days + 1
    return labels


def tier_case_sql(days_column: str = "days_to_expiry") -> str:
    """The tier of a row as an SQL CASE over its days to expiry (the last tier is the ELSE)."""
    *bounded, last = TIERS
    whens = " ".join(f"WHEN {days_column} <= {tier.max_days} THEN '{tier.name}'" for tier in bounded)
    return f"CASE {whens} ELSE '{last.name}' END"
