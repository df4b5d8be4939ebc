"""One dynamic partition per landed object version, with keys that are safe to use anywhere."""

import hashlib
import re
import unicodedata

import dagster as dg

from hc_pipeline.stores.landed import DOMAINS

__all__ = ["DOMAINS", "files_partitions", "partition_key_for", "safe_name"]

files_partitions = {domain: dg.DynamicPartitionsDefinition(name=f"{domain}_files") for domain in DOMAINS}

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 80


def _short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def safe_name(object_key: str) -> str:
    """The object's key below its domain folder as `[A-Za-z0-9._-]`, with a hash when that changed it."""
    relative = object_key.split("/", 1)[1] if "/" in object_key else object_key
    ascii_form = unicodedata.normalize("NFKD", relative).encode("ascii", "ignore").decode()
    safe = _UNSAFE.sub("_", ascii_form).strip("._-")
    safe = re.sub(r"\.{2,}", ".", safe)[:_MAX_NAME] or "file"
    # Two keys that sanitise alike ("a b.csv", "a,b.csv") must stay apart.
    return safe if safe == relative else f"{safe}-{_short_hash(relative, 6)}"


def partition_key_for(object_key: str, version: str) -> str:
    """The partition key of one landed object version: `<safe name>@<version hash>`."""
    return f"{safe_name(object_key)}@{_short_hash(f'{object_key}@{version}')}"
