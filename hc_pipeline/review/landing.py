"""Where decisions files land: beside the domains' folders, so no per-file sensor or asset mistakes one for data."""

import datetime as dt
import re

DECISIONS_FOLDER = "_decisions"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def decisions_prefix(domain: str) -> str:
    """`_decisions/<domain>`: listed like a domain folder, `landing/_decisions/patients/...`."""
    return f"{DECISIONS_FOLDER}/{domain}"


def decisions_key(domain: str, file_name: str, now: dt.datetime | None = None) -> str:
    """A fresh key for one applied decisions file: UTC time first, so keys sort in the order they were applied."""
    now = now or dt.datetime.now(dt.UTC)
    stem = _UNSAFE.sub("_", file_name.rsplit("/", 1)[-1]).strip("._") or "decisions.csv"
    return f"{decisions_prefix(domain)}/{now:%Y%m%dT%H%M%S%fZ}_{stem}"


def partition_name(key: str) -> str:
    """The key below `_decisions/`, e.g. `patients/20261201T...csv`, for `partition_key_for`."""
    return key.split("/", 1)[1] if key.startswith(f"{DECISIONS_FOLDER}/") else key
