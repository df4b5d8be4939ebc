"""Facility records: parse both variants once, judge by the pandera rules, split into curated and quarantined."""

import datetime as dt
import re
from collections.abc import Collection

import numpy as np
import pandas as pd
import pyarrow

from hc_pipeline.curation.extra import extra_column
from hc_pipeline.curation.facility_extra import LOCATION_FIELDS, extra_fields
from hc_pipeline.curation.rules import REASONS_DTYPE, Curation, evaluate, reasons_column
from hc_pipeline.cycles import collector_paused
from hc_pipeline.schemas.facilities import ACCREDITATION, LAB, RULE_GROUPS, RULES
from hc_pipeline.schemas.rules import ERROR, Staging
from hc_pipeline.sources import json_numbers

STRING = pd.StringDtype("pyarrow")
DATE = pd.ArrowDtype(pyarrow.date32())
SERVICES = pd.ArrowDtype(pyarrow.list_(pyarrow.string()))
ACCREDITATIONS = pd.ArrowDtype(pyarrow.list_(ACCREDITATION))
LABS = pd.ArrowDtype(pyarrow.list_(LAB))
LANDED_AT = pd.ArrowDtype(pyarrow.timestamp("us"))
CURATED_COLUMNS = [
    "facility_id",
    "facility_name",
    "address",
    "city",
    "state",
    "zip",
    "employee_count",
    "services",
    "n_services",
    "labs",
    "accreditations",
    "first_accreditation_expiry",
    "source_file",
    "source_row",
    "landed_at",
    "warnings",
    "extra",
]
QUARANTINED_COLUMNS = ["record_json", "source_file", "source_row", "parse_error", "facility_id", "reasons"]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_US_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*")
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INT64_MAX = 2**63 - 1


def _text(value: object) -> str | None:
    """A JSON scalar as stripped text; blank, null and containers are None."""
    if type(value) is str:  # most values: no further checks
        return value.strip() or None
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        return None
    text = value.strip() if isinstance(value, str) else str(value)
    return text or None


def parse_expiry(value: object) -> dt.date | None:
    """An expiry written YYYY-MM-DD, MM/DD/YYYY or as an ISO date-time (its date as written); else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if _ISO_DATE.fullmatch(text):
            return dt.date.fromisoformat(text)
        if _US_DATE.fullmatch(text):
            return dt.datetime.strptime(text, "%m/%d/%Y").date()
        if _ISO_DATETIME.fullmatch(text):
            return dt.datetime.fromisoformat(text).date()
    except ValueError:
        return None
    return None


def parse_employee_count(value: object) -> tuple[bool, int | None]:
    """(given, count): whole non-negative numbers, also as text; anything else given is (True, None)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return False, None
    if isinstance(value, bool):
        return True, None
    number = value
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            number = int(text)
        elif _DECIMAL.fullmatch(text):
            number = float(text)
        else:
            return True, None
    if isinstance(number, float):
        if not number.is_integer():
            return True, None
        number = int(number)
    if not isinstance(number, int) or not 0 <= number <= _INT64_MAX:
        return True, None
    return True, number


def _accreditation(item: object) -> tuple[dict, bool]:
    """One accreditation of either variant as {body, id, expiry_date}, and whether its expiry was read."""
    if not isinstance(item, dict):
        return {"body": None, "id": None, "expiry_date": None}, False
    # Nested names win; a record mixing both spellings still yields one value per field.
    expiry = parse_expiry(item.get("valid_until", item.get("expiry_date")))
    body = _text(item.get("accreditation_body", item.get("name")))
    accreditation_id = _text(item.get("accreditation_id", item.get("id")))
    return {"body": body, "id": accreditation_id, "expiry_date": expiry}, expiry is not None


def _lab(item: object) -> dict | None:
    """One lab as {name, certifications}; a bare string is the lab's name."""
    if not isinstance(item, dict):
        name = _text(item)
        return None if name is None else {"name": name, "certifications": None}
    certifications = item.get("certifications")
    if isinstance(certifications, str):
        certifications = [certifications]
    return {
        "name": _text(item.get("lab_name", item.get("name"))),
        "certifications": [c for c in map(_text, certifications) if c] if isinstance(certifications, list) else None,
    }


def _zip(value: object) -> str | None:
    # A ZIP written as a JSON number has lost its leading zeros.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 100_000:
        return f"{value:05d}"
    return _text(value)


def normalise(record: dict) -> dict:
    """Both variants in one shape: flat `state` or nested `location`, flat or nested accreditations."""
    location = record.get("location") if isinstance(record.get("location"), dict) else {}
    # Nested wins over flat, field by field: a flat record may still carry an address, a city or a ZIP.
    place = {key: location[key] if key in location else record.get(key) for key in LOCATION_FIELDS}
    state = _text(place["state"])
    given, count = parse_employee_count(record.get("employee_count"))
    services = record.get("services")
    if isinstance(services, str):
        services = [services]
    services = [s for s in map(_text, services) if s] if isinstance(services, list) else None
    raw_accreditations = record.get("accreditations")
    if isinstance(raw_accreditations, dict):
        raw_accreditations = [raw_accreditations]
    parsed = [_accreditation(item) for item in raw_accreditations] if isinstance(raw_accreditations, list) else None
    expiries = [a["expiry_date"] for a, ok in parsed or [] if ok]
    labs = record.get("labs")
    labs = [lab for lab in map(_lab, labs if isinstance(labs, list) else [labs]) if lab] if labs is not None else None
    return {
        "facility_id": _text(record.get("facility_id")),
        "_name": _text(record.get("facility_name")),
        "_address": _text(place["address"]),
        "_city": _text(place["city"]),
        "_state": state.upper() if state else None,
        "_zip": _zip(place["zip"]),
        "_employee_count_given": given,
        "_employee_count": count,
        "_services": services,
        "_labs": labs,
        "_accreditations": None if parsed is None else [a for a, _ in parsed],
        "_accreditations_given": bool(parsed),
        "_expiries_ok": all(ok for _, ok in parsed or []),
        "_first_expiry": min(expiries) if expiries else None,
        "_extra": extra_fields(record),
    }


def _record(row_json: object, parse_error: object) -> dict | None:
    if not pd.isna(parse_error) or pd.isna(row_json):
        return None
    try:
        value = json_numbers.loads(row_json)  # `1e400` stays a number past range: employee_count refuses it
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def stage(raw: pd.DataFrame, known_ids: Collection[str] = frozenset()) -> pd.DataFrame:
    """The raw records plus their parsed values, the frame the rules run on."""
    empty = normalise({})
    with collector_paused():
        records = [_record(text, error) for text, error in zip(raw["record_json"], raw["parse_error"])]
        parsed = pd.DataFrame(
            [normalise(r) if r is not None else empty for r in records], index=raw.index, columns=list(empty)
        )
        is_object = [r is not None for r in records]
        del records
    staged = raw.assign(
        _is_object=is_object,
        facility_id=parsed["facility_id"].astype(STRING),
        _state=parsed["_state"].astype(STRING),
        _employee_count=parsed["_employee_count"].astype("Int64"),
        _first_expiry=parsed["_first_expiry"].astype(DATE),
        **{c: parsed[c] for c in ("_name", "_address", "_city", "_zip", "_services", "_labs", "_accreditations")},
        _extra=parsed["_extra"],
        **{c: parsed[c].astype(bool) for c in ("_employee_count_given", "_accreditations_given", "_expiries_ok")},
    )
    staged["_known_id"] = staged["facility_id"].isin(set(known_ids)).fillna(False).astype(bool)
    return staged


def _arrow(values: pd.Series, dtype: pd.ArrowDtype) -> pd.Series:
    array = pyarrow.array(values.tolist(), type=dtype.pyarrow_dtype)
    return pd.Series(pd.arrays.ArrowExtensionArray(array), index=values.index, dtype=dtype)


def _landed_at(landed_at: dt.datetime | None) -> pd.Timestamp | None:
    """Landing time as naive UTC, how Athena reads a parquet TIMESTAMP."""
    if landed_at is None:
        return None
    stamp = pd.Timestamp(landed_at)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp


def curate(
    raw: pd.DataFrame,
    run_date: dt.date,
    known_ids: Collection[str] = frozenset(),
    landed_at: dt.datetime | None = None,
    keep: np.ndarray | None = None,
    staging: Staging | None = None,
) -> Curation:
    """Split one file's raw records into curated and quarantined, with every finding.

    `known_ids` are facility ids from previously landed files; `landed_at` is this file's landing time;
    `keep` marks rows curated as recorded whatever they break (exceptions a steward accepted); `staging` carries
    the file's first-seen ids when `raw` is one batch of it.
    """
    staged = stage(raw, known_ids)
    masks = evaluate(staged, staging or Staging(run_date), RULE_GROUPS)
    errors = [r for r in masks.columns if RULES[r].severity == ERROR]
    quarantine = masks[errors].any(axis=1).to_numpy() & (True if keep is None else ~keep)

    good = staged[~quarantine]
    curated = pd.DataFrame(
        {
            "facility_id": good["facility_id"],
            "facility_name": good["_name"].astype(STRING),
            "address": good["_address"].astype(STRING),
            "city": good["_city"].astype(STRING),
            "state": good["_state"],
            "zip": good["_zip"].astype(STRING),
            "employee_count": good["_employee_count"],
            "services": _arrow(good["_services"], SERVICES),
            "n_services": good["_services"].map(len, na_action="ignore").astype("Int64"),
            "labs": _arrow(good["_labs"], LABS),
            "accreditations": _arrow(good["_accreditations"], ACCREDITATIONS),
            "first_accreditation_expiry": good["_first_expiry"],
            "source_file": good["source_file"].astype(STRING),
            "source_row": good["source_row"].astype("int64"),
            "landed_at": pd.Series(_landed_at(landed_at), index=good.index, dtype=LANDED_AT),
            "warnings": reasons_column(masks.loc[~quarantine, [r for r in masks if r not in errors]]),
            "extra": extra_column(good["_extra"], good.index),
        },
        columns=CURATED_COLUMNS,
    ).reset_index(drop=True)

    bad = staged[quarantine]
    quarantined = bad[QUARANTINED_COLUMNS[:-1]].assign(reasons=reasons_column(masks[quarantine])).reset_index(drop=True)
    quarantined["reasons"] = quarantined["reasons"].astype(REASONS_DTYPE)

    return Curation(curated=curated, quarantined=quarantined, masks=masks, keys=staged[["source_row", "facility_id"]])


def report_findings(curated: pd.DataFrame, quarantined: pd.DataFrame) -> pd.DataFrame:
    """One row per finding: source_file, source_row, facility_id, rule, field, severity."""
    long = pd.concat(
        [
            curated[["source_file", "source_row", "facility_id"]].assign(rule=curated["warnings"]),
            quarantined[["source_file", "source_row", "facility_id"]].assign(rule=quarantined["reasons"]),
        ],
        ignore_index=True,
    ).explode("rule")
    found = long[long["rule"].notna()].sort_values(["source_row", "rule"], kind="stable")
    found = found.assign(
        field=found["rule"].map(lambda r: RULES[r].field),
        severity=found["rule"].map(lambda r: RULES[r].severity),
    )
    columns = ["source_file", "source_row", "facility_id", "rule", "field", "severity"]
    types = {c: STRING for c in columns if c != "source_row"} | {"source_row": "int64"}
    return found[columns].astype(types).reset_index(drop=True)
