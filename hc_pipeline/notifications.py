"""What people are told: (subject, message) pairs built only from run ids, asset keys, counts and facility ids."""

import datetime as dt
from collections.abc import Mapping, Sequence

import dagster as dg

from hc_pipeline.tiers import TIER_NAMES, tier_labels

PREFIX = "hc_pipeline"
ERROR_SUMMARY_MAX = 500
REASON_MAX = 300
MAX_LISTED = 20
ALWAYS_SHOWN = ("critical", "high", "medium")
TIER_LABELS = tier_labels()


def truncate(text: str, limit: int) -> str:
    """The text cut to `limit` characters, marked with '...' when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def listed(items: Sequence[str], limit: int = MAX_LISTED) -> list[str]:
    """At most `limit` items, then one 'and N more' line."""
    shown = list(items[:limit])
    if len(items) > limit:
        shown.append(f"and {len(items) - limit} more")
    return shown


def _key_text(key: dg.AssetKey | str, name: str) -> str:
    if isinstance(key, dg.AssetKey):
        return key.to_user_string()
    if isinstance(key, str):
        return key
    raise TypeError(f"{name}: expected an AssetKey or str, got {type(key).__name__}")


def _count(value: object, name: str) -> int:
    # bool is an int subclass; a flag passed as a count is a caller bug.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int count, got {type(value).__name__}")
    return value


def _text(value: object, name: str) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise TypeError(f"{name}: expected a str, got {type(value).__name__}")
    return str(value)


def run_failure_message(
    run_id: str, job_name: str, asset_keys: Sequence[dg.AssetKey | str], error_summary: str
) -> tuple[str, str]:
    """A failed run: its id, job, assets and Dagster's failure message (not the exception text)."""
    if isinstance(asset_keys, (str, dg.AssetKey)) or not isinstance(asset_keys, (list, tuple, set, frozenset)):
        raise TypeError(f"asset_keys: expected a list of asset keys, got {type(asset_keys).__name__}")
    keys = sorted(_key_text(k, "asset_keys") for k in asset_keys)
    subject = f"{PREFIX}: run failed: {_text(job_name, 'job_name')}"
    lines = [
        f"Run {_text(run_id, 'run_id')} of job {job_name} failed.",
        f"Assets: {', '.join(listed(keys)) if keys else 'none recorded'}",
        f"Error: {truncate(_text(error_summary, 'error_summary').strip(), ERROR_SUMMARY_MAX)}",
        "Open the run in Dagster for the step logs.",
    ]
    return subject, "\n".join(lines)


def check_failure_message(
    asset_key: dg.AssetKey | str,
    check_name: str,
    partition: str | None,
    failing_count: int | None,
    reason: str | None = None,
) -> tuple[str, str]:
    """A failing ERROR check: where, how many rows and the rule-level reason; never row values."""
    asset = _key_text(asset_key, "asset_key")
    check = _text(check_name, "check_name")
    where = f"{asset}, partition {_text(partition, 'partition')}" if partition is not None else asset
    lines = [f"ERROR check {check} failed on {where}."]
    if failing_count is not None:
        lines.append(f"Failing rows: {_count(failing_count, 'failing_count')}")
    if reason is not None:
        lines.append(f"Reason: {truncate(_text(reason, 'reason').strip(), REASON_MAX)}")
    lines.append("Open the asset's checks in Dagster for the masked sample.")
    return f"{PREFIX}: check {check} failed on {asset}", "\n".join(lines)


def _facility(pair: object) -> tuple[str, str]:
    if not isinstance(pair, tuple) or len(pair) != 2:
        raise TypeError(f"critical_facilities: expected (facility_id, facility_name) tuples, got {type(pair).__name__}")
    return _text(pair[0], "facility_id"), _text(pair[1], "facility_name")


def tier_counts_message(
    tier_counts: Mapping[str, int],
    critical_facilities: Sequence[tuple[str, str]],
    as_of: dt.date | str,
    full_list: str | None = None,
) -> tuple[str, str]:
    """Expiring accreditations: counts per tier, the critical facilities (20 at most), where the full list is."""
    if not isinstance(tier_counts, Mapping):
        raise TypeError(f"tier_counts: expected a mapping of tier to count, got {type(tier_counts).__name__}")
    unknown = sorted(set(tier_counts) - set(TIER_NAMES))
    if unknown:
        raise ValueError(f"tier_counts: unknown tiers {unknown}; expected some of {list(TIER_NAMES)}")
    counts = {tier: _count(n, f"tier_counts[{tier!r}]") for tier, n in tier_counts.items()}
    if not isinstance(critical_facilities, (list, tuple)):
        raise TypeError(
            f"critical_facilities: expected a list of (facility_id, facility_name), got {type(critical_facilities).__name__}"
        )
    # One facility can hold several critical accreditations; people want each facility once.
    facilities = list(dict.fromkeys(_facility(pair) for pair in critical_facilities))
    day = as_of.isoformat() if isinstance(as_of, dt.date) else _text(as_of, "as_of")

    shown = [t for t in TIER_NAMES if t in ALWAYS_SHOWN or t in counts]
    summary = ", ".join(f"{counts.get(t, 0)} {t}" for t in ALWAYS_SHOWN)
    lines = [f"Expiring accreditations as of {day}:"]
    lines += [f"- {TIER_LABELS[t]}: {counts.get(t, 0)}" for t in shown]
    if facilities:
        lines.append(f"Critical facilities ({len(facilities)}):")
        entries = [f"{facility_id} {name}" for facility_id, name in facilities]
        lines += [f"- {entry}" if i < MAX_LISTED else entry for i, entry in enumerate(listed(entries))]
    else:
        lines.append("No facility in the critical tier.")
    if full_list is not None:
        lines.append(f"Full list (CSV): {_text(full_list, 'full_list')}")
    return f"{PREFIX}: expiring accreditations as of {day}: {summary}", "\n".join(lines)
