"""Synthetic facilities JSON in every container and both record variants, one injected defect per bad record."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json

import numpy as np

FACILITY_ERRORS = (
    "missing_facility_id",
    "invalid_json",
    "invalid_employee_count",
    "unparseable_expiry_date",
    "invalid_state",
)
FACILITY_WARNINGS = ("missing_accreditations", "expired_accreditation", "duplicate_facility")
FACILITY_RULES = FACILITY_ERRORS + FACILITY_WARNINGS

BODIES = [("The Joint Commission", "TJC"), ("DNV", "DNV"), ("CARF", "CARF"), ("CAP", "CAP"), ("AAAHC", "AAAHC")]
CITIES = [
    ("Boston", "MA", "021"),
    ("Houston", "TX", "770"),
    ("Dallas", "TX", "752"),
    ("Phoenix", "AZ", "850"),
    ("Chicago", "IL", "606"),
    ("Columbus", "OH", "432"),
    ("Atlanta", "GA", "303"),
    ("Denver", "CO", "802"),
    ("Seattle", "WA", "981"),
    ("Nashville", "TN", "372"),
    ("Rochester", "MN", "559"),
    ("Miami", "FL", "331"),
    ("Sacramento", "CA", "958"),
    ("Los Angeles", "CA", "900"),
    ("Albany", "NY", "122"),
    ("Portland", "OR", "972"),
    ("Salt Lake City", "UT", "841"),
    ("Omaha", "NE", "681"),
    ("Washington", "DC", "200"),
    ("San Juan", "PR", "009"),
    ("Anchorage", "AK", "995"),
    ("Honolulu", "HI", "968"),
    ("Hagåtña", "GU", "969"),
    ("Burlington", "VT", "054"),
]
_PREFIXES = [
    "St. Mary's",
    "Mercy",
    "Riverside",
    "Good Samaritan",
    "Providence",
    "Sacred Heart",
    "Lakeview",
    "Baptist",
    "Memorial",
    "Valley",
    "Northside",
    "Children's",
    "University",
    "Santa Rosa",
    "San José",
]
_SUFFIXES = [
    "Medical Center",
    "Hospital",
    "Regional Hospital",
    "Health Center",
    "Community Hospital",
    "Rehabilitation Center",
    "Surgical Center",
]
_STREETS = ["Main Street", "Oak Avenue", "Hospital Drive", "Medical Parkway", "Elm Street", "Calle Loíza", "Route 9"]
_SERVICES = [
    "Emergency",
    "Radiology",
    "Cardiology",
    "Oncology",
    "Orthopedics",
    "Pediatrics",
    "Maternity",
    "Laboratory",
    "Pharmacy",
    "Surgery",
    "ICU",
    "Rehabilitation",
    "Dialysis",
    "Behavioral Health",
]
_LABS = ["Clinical Chemistry Lab", "Microbiology Lab", "Hematology Lab", "Pathology Lab", "Blood Bank"]
_CERTS = ["CLIA", "CAP", "COLA", "AABB"]
_CONTAINERS = ["object", "array", "ndjson", "wrapper"]
_BOUNDARY_DAYS = [1, 30, 60, 90, 180]  # clean expiries placed exactly on the tier edges


@dataclasses.dataclass
class FacilityFile:
    """One generated file: base name, container, exact text, BOM flag and (source_row, rule) defects."""

    name: str
    container: str
    text: str
    bom: bool
    defects: list[tuple[int, str]]


def build_facility_files(
    rng: np.random.Generator, total: int, n_files: int, defect_rate: float, run_date: dt.date
) -> list[FacilityFile]:
    """Generate `total` facility records over `n_files` files; file-name order is landing order."""
    lists = ["array", "ndjson", "wrapper"]
    containers = (_CONTAINERS + lists * n_files)[:n_files] if n_files >= 4 else lists[:n_files]
    sizes = _sizes(total, containers)
    file_of = np.repeat(np.arange(n_files), sizes)
    ids = rng.choice(np.arange(1, 100_000), total, replace=False)
    records = [_clean_record(rng, f"FAC-{fid:05d}", rng.random() < 0.5, run_date) for fid in ids]
    ndjson = np.isin(file_of, [f for f, c in enumerate(containers) if c == "ndjson"])
    label = _assign_rules(rng, file_of, ndjson, defect_rate)
    _place_boundaries(rng, records, label, run_date)
    lines: dict[int, str] = {}
    used: set[int] = set()
    for g in np.flatnonzero(label >= 0):
        rule = FACILITY_RULES[label[g]]
        if rule == "invalid_json":
            lines[g] = _broken(rng, records[g])
        elif rule == "duplicate_facility":
            j = _earlier_clean(rng, label, g, used)
            if j is None:
                label[g] = -1
                continue
            used.add(j)
            records[g] = copy.deepcopy(records[j])
            if records[g]["employee_count"] is not None:
                records[g]["employee_count"] += int(rng.integers(1, 20))
        else:
            _DEFECTS[rule](rng, records[g], run_date)
    files = []
    for f, container in enumerate(containers):
        members = np.flatnonzero(file_of == f)
        texts = [lines.get(g) for g in members]
        text, rows = _serialise(rng, container, [records[g] for g in members], texts)
        defects = [(rows[k], FACILITY_RULES[label[g]]) for k, g in enumerate(members) if label[g] >= 0]
        suffix = "ndjson" if container == "ndjson" else "json"
        files.append(
            FacilityFile(f"facilities_{f + 1:02d}_{container}.{suffix}", container, text, container == "array", defects)
        )
    return files


def _sizes(total: int, containers: list[str]) -> np.ndarray:
    """Records per file: one in a single-object file, the rest split evenly."""
    singles = containers.count("object")
    if not len(containers) <= total < 100_000:  # ids are FAC-00001..FAC-99999
        raise ValueError(f"{total} facilities cannot fill {len(containers)} files with five-digit ids")
    rest = iter(np.array_split(np.arange(total - singles), len(containers) - singles))
    return np.array([1 if c == "object" else len(next(rest)) for c in containers])


def _clean_record(rng: np.random.Generator, facility_id: str, nested: bool, run_date: dt.date) -> dict:
    """A valid facility, flat or nested, with 1-4 accreditations expiring between tomorrow and three years out."""
    city, state, zip3 = CITIES[rng.integers(len(CITIES))]
    name = f"{rng.choice(_PREFIXES) if rng.random() < 0.6 else city} {rng.choice(_SUFFIXES)}"
    employees = None if rng.random() < 0.05 else int(np.clip(rng.lognormal(6.2, 1.0), 12, 25_000))
    services = [str(s) for s in rng.choice(_SERVICES, rng.integers(1, 7), replace=False)]
    bodies = rng.choice(len(BODIES), rng.integers(1, 5), replace=False)
    # A third of expiries fall in the next six months so every expiry tier is populated.
    days = [int(rng.integers(1, 181) if rng.random() < 0.35 else rng.integers(1, 3 * 365 + 1)) for _ in bodies]
    expiries = [_spell(rng, run_date + dt.timedelta(days=d)) for d in days]
    if not nested:
        accreditations = [{"name": BODIES[b][0], "expiry_date": e} for b, e in zip(bodies, expiries)]
        return {
            "facility_id": facility_id,
            "facility_name": name,
            "employee_count": employees,
            "services": services,
            "accreditations": accreditations,
            "state": state,
        }
    labs = [
        {"lab_name": str(lab), "certifications": [str(c) for c in rng.choice(_CERTS, rng.integers(1, 3), False)]}
        for lab in rng.choice(_LABS, rng.integers(0, 4), replace=False)
    ]
    accreditations = [
        {
            "accreditation_body": BODIES[b][0],
            "accreditation_id": f"{BODIES[b][1]}-{rng.integers(10**5, 10**6)}",
            "valid_until": e,
        }
        for b, e in zip(bodies, expiries)
    ]
    location = {
        "address": f"{rng.integers(1, 9999)} {rng.choice(_STREETS)}",
        "city": city,
        "state": state,
        "zip": f"{zip3}{rng.integers(0, 100):02d}",
    }
    return {
        "facility_id": facility_id,
        "facility_name": name,
        "location": location,
        "employee_count": employees,
        "services": services,
        "labs": labs,
        "accreditations": accreditations,
    }


def _spell(rng: np.random.Generator, day: dt.date) -> str:
    """A valid expiry spelling: ISO date, US date or ISO datetime."""
    r = rng.random()
    return day.isoformat() if r < 0.7 else day.strftime("%m/%d/%Y") if r < 0.9 else f"{day.isoformat()}T00:00:00Z"


def _assign_rules(rng: np.random.Generator, file_of: np.ndarray, ndjson: np.ndarray, defect_rate: float) -> np.ndarray:
    """Rule index per record (-1 = clean); each rule at least twice from 100 records unless the rate is 0."""
    n = len(file_of)
    # NDJSON detection needs the first line of the file to be a whole object.
    first = np.r_[True, file_of[1:] != file_of[:-1]]
    broken_ok = np.flatnonzero(ndjson & ~first)
    rules = [r for r in range(len(FACILITY_RULES)) if FACILITY_RULES[r] != "invalid_json" or len(broken_ok)]
    k = int(rng.binomial(n, defect_rate))
    if n >= 100 and defect_rate > 0:
        k = max(k, 2 * len(rules))
    k = min(k, n // 3)
    labels = rng.permutation(np.resize(rng.permutation(rules), k))
    label = np.full(n, -1, dtype=np.int64)
    broken = labels == FACILITY_RULES.index("invalid_json")
    # At most a third of an NDJSON file is broken, so it still reads as NDJSON.
    spots = rng.permutation(broken_ok)[: min(broken.sum(), len(broken_ok) // 3)]
    label[spots] = FACILITY_RULES.index("invalid_json")
    others = labels[~broken]
    free = rng.permutation(np.setdiff1d(np.arange(1, n), spots))[: len(others)]
    label[free] = others[: len(free)]
    return label


def _earlier_clean(rng: np.random.Generator, label: np.ndarray, g: int, used: set[int]) -> int | None:
    """A clean record before position `g` not yet duplicated."""
    candidates = [j for j in np.flatnonzero(label[:g] < 0).tolist() if j not in used]
    return int(rng.choice(candidates)) if candidates else None


def _place_boundaries(rng: np.random.Generator, records: list[dict], label: np.ndarray, run_date: dt.date) -> None:
    """Give a few clean records a single accreditation expiring exactly on a tier edge."""
    clean = np.flatnonzero(label < 0)
    for g, days in zip(rng.choice(clean, min(len(clean), len(_BOUNDARY_DAYS)), replace=False), _BOUNDARY_DAYS):
        accreditation = records[g]["accreditations"][0]
        key = "expiry_date" if "expiry_date" in accreditation else "valid_until"
        accreditation[key] = (run_date + dt.timedelta(days=days)).isoformat()
        records[g]["accreditations"] = [accreditation]


def _expiry_key(record: dict) -> str:
    """The expiry field name of this record's variant."""
    return "valid_until" if "location" in record else "expiry_date"


def _missing_id(rng: np.random.Generator, record: dict, run_date: dt.date) -> None:
    """Null, empty, blank or absent facility_id."""
    choice = rng.integers(4)
    if choice == 3:
        del record["facility_id"]
    else:
        record["facility_id"] = [None, "", "   "][choice]


def _bad_employees(rng: np.random.Generator, record: dict, run_date: dt.date) -> None:
    """A negative or fractional employee_count."""
    record["employee_count"] = [-int(rng.integers(1, 500)), 12.5, 310.75][rng.integers(3)]


def _bad_expiry(rng: np.random.Generator, record: dict, run_date: dt.date) -> None:
    """One accreditation's expiry impossible, free text or missing."""
    accreditation = record["accreditations"][rng.integers(len(record["accreditations"]))]
    accreditation[_expiry_key(record)] = ["31/31/2025", "soon", f"{run_date.year + 1}-02-30", None][rng.integers(4)]


def _bad_state(rng: np.random.Generator, record: dict, run_date: dt.date) -> None:
    """A state that is not a USPS code, or none."""
    holder = record.get("location", record)
    holder["state"] = ["XX", "Texas", "T.X.", None][rng.integers(4)]


def _no_accreditations(rng: np.random.Generator, record: dict, run_date: dt.date) -> None:
    """An empty or absent accreditations list."""
    if rng.random() < 0.25:
        del record["accreditations"]
    else:
        record["accreditations"] = []


def _expired(rng: np.random.Generator, record: dict, run_date: dt.date) -> None:
    """One accreditation expired before the run date; the others stay valid."""
    accreditation = record["accreditations"][rng.integers(len(record["accreditations"]))]
    ago = 1 if rng.random() < 0.25 else int(rng.integers(1, 400))
    accreditation[_expiry_key(record)] = (run_date - dt.timedelta(days=ago)).isoformat()


_DEFECTS = {
    "missing_facility_id": _missing_id,
    "invalid_employee_count": _bad_employees,
    "unparseable_expiry_date": _bad_expiry,
    "invalid_state": _bad_state,
    "missing_accreditations": _no_accreditations,
    "expired_accreditation": _expired,
}


def _broken(rng: np.random.Generator, record: dict) -> str:
    """One NDJSON line that is not valid JSON: cut short, a trailing comma, or single quotes."""
    text = json.dumps(record, ensure_ascii=False)
    line = [text[: int(rng.integers(12, len(text) - 1))], text[:-1] + ",}", text.replace('"', "'")][rng.integers(3)]
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return line
    raise AssertionError(f"meant to be broken JSON: {line}")


def _serialise(
    rng: np.random.Generator, container: str, records: list[dict], lines: list[str | None]
) -> tuple[str, list[int]]:
    """File text and each record's source_row (NDJSON: physical line, blank lines included)."""
    if container == "object":
        return json.dumps(records[0], indent=2, ensure_ascii=False) + "\n", [1]
    if container == "ndjson":
        out, rows = [], []
        for k, (record, line) in enumerate(zip(records, lines)):
            if k and rng.random() < 0.03:
                out.append("")  # blank lines are skipped but still counted
            out.append(line if line is not None else json.dumps(record, ensure_ascii=False))
            rows.append(len(out))
        return "\n".join(out) + "\n", rows
    rows = list(range(1, len(records) + 1))
    if container == "array":
        return json.dumps(records, indent=2, ensure_ascii=False) + "\n", rows
    # A scalar beside the list: the wrapper still holds exactly one list of objects.
    wrapper = {"source": "hc_pipeline sample generator", "sample_data": records}
    return json.dumps(wrapper, indent=1, ensure_ascii=False) + "\n", rows
