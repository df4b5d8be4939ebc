"""Identifiers leave the lake only as keyed hashes, never as themselves."""

import hashlib
import hmac
import os

import pandas as pd

_DEFAULT_SALT = "hc_pipeline"


def mask_id(value: object, prefix: str = "id") -> str:
    """A stable, non-reversible token for an identifier, e.g. `id:3f2a9c1b0d`."""
    if value is None or pd.isna(value):
        return "(blank)"
    salt = os.environ.get("HC_MASK_SALT", _DEFAULT_SALT).encode()
    digest = hmac.new(salt, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:10]
    return f"{prefix}:{digest}"
