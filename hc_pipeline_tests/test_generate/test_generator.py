"""The sample generator: files parse, and a from-the-spec oracle finds exactly the injected defects."""

import collections
import csv
import datetime as dt
import json
import re
import statistics

import pytest

from hc_pipeline.generate.facilities import FACILITY_RULES
from hc_pipeline.generate.patients import PATIENT_ERRORS, PATIENT_RULES
from hc_pipeline.generate.writer import generate

RUN_DATE = dt.date(2025, 6, 15)
ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
GENDERS = {"m", "male", "f", "female", "o", "other", "u", "unknown"}
USPS = set(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "DC",
        "PR",
        "GU",
        "VI",
        "AS",
        "MP",
        "UM",
    ]
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    summary = generate(out, patients=4000, facilities=300, run_date=RUN_DATE)
    return out, summary


def ground_truth(out, domain):
    with open(out / "ground_truth.csv", newline="", encoding="utf-8") as fh:
        return {(r["file"], int(r["row"]), r["rule"]) for r in csv.DictReader(fh) if r["domain"] == domain}


def read_patients(path):
    """Normalised header and the data records of one CSV, cells as written."""
    with open(path, newline="", encoding="utf-8") as fh:
        header, *records = list(csv.reader(fh))
    return [re.sub(r"[^0-9a-z]+", "_", h.strip().lower()).strip("_") for h in header], records


def parse_date(text, datetimes=False):
    if not isinstance(text, str):
        return None
    for pattern, fmt in ((r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"), (r"\d{2}/\d{2}/\d{4}", "%m/%d/%Y")):
        if re.fullmatch(pattern, text):
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                return None
    if datetimes and "T" in text:
        try:
            return dt.datetime.fromisoformat(text).date()
        except ValueError:
            return None
    return None


def patient_findings(path, run_date):
    """Every (row, rule) that rules.md assigns to this patients file."""
    names, records = read_patients(path)
    findings, seen_rows, seen_stays, population = set(), set(), set(), collections.defaultdict(list)
    for row, raw in enumerate(records, start=1):
        key = tuple(v.strip() for v in raw)
        v = dict(zip(names, [x or None for x in key]))
        found = set()
        if v["patient_id"] is None:
            found.add("missing_patient_id")
        if v["admission_date"] is None:
            found.add("missing_admission_date")
        adm, dis = parse_date(v["admission_date"]), parse_date(v["discharge_date"])
        if (v["admission_date"] and not adm) or (v["discharge_date"] and not dis):
            found.add("unparseable_date")
        age = None
        if v["age"] is not None:
            try:
                age = float(v["age"]) if float(v["age"]).is_integer() else None
            except ValueError:
                pass
            found |= {"unparseable_age"} if age is None else {"age_out_of_range"} if not 0 <= age <= 120 else set()
        if adm and dis and dis < adm:
            found.add("discharge_before_admission")
        if adm and adm > run_date:
            found.add("future_admission")
        if key in seen_rows:
            found.add("duplicate_row")
        seen_rows.add(key)
        for column in ("age", "gender", "diagnosis", "discharge_date"):
            if v[column] is None:
                found.add(f"missing_{column}")
        if v["gender"] is not None and v["gender"].lower() not in GENDERS:
            found.add("invalid_gender")
        if v.get("diagnosis_code") and not ICD10.match(v["diagnosis_code"].upper()):
            found.add("invalid_diagnosis_code")
        if "duplicate_row" not in found and v["patient_id"] and adm:
            if (v["patient_id"], adm) in seen_stays:
                found.add("duplicate_stay")
            seen_stays.add((v["patient_id"], adm))
        if adm and dis and dis >= adm and v["diagnosis"] and not found & set(PATIENT_ERRORS):
            population[v["diagnosis"]].append((row, (dis - adm).days))
        findings |= {(row, rule) for rule in found}
    for members in population.values():
        if len(members) < 30:
            continue
        stays = [los for _, los in members]
        median = statistics.median(stays)
        mad = statistics.median(abs(s - median) for s in stays)
        mean_ad = statistics.mean(abs(s - median) for s in stays)
        for row, los in members:
            z = 0.6745 * (los - median) / mad if mad else (los - median) / (1.253314 * mean_ad) if mean_ad else 0
            if abs(z) > 3.5:
                findings.add((row, "los_outlier"))
    return findings


def all_patient_findings(out):
    return {(p.name, row, rule) for p in (out / "patients").iterdir() for row, rule in patient_findings(p, RUN_DATE)}


def facility_records(path):
    """(source_row, record or None for broken JSON) of one facilities file."""
    text = path.read_bytes().decode("utf-8-sig")
    if path.suffix == ".ndjson":
        rows = []
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError:
                    rows.append((number, None))
        return rows
    value = json.loads(text)
    if isinstance(value, dict) and "facility_name" in value:
        return [(1, value)]
    items = value if isinstance(value, list) else next(v for v in value.values() if isinstance(v, list))
    return list(enumerate(items, start=1))


def expiries(record):
    return [a.get("expiry_date", a.get("valid_until")) for a in record.get("accreditations") or []]


def facility_findings(folder, run_date):
    """Every (file, row, rule) that rules.md assigns to the facilities files, landed in name order."""
    findings, seen = set(), set()
    for path in sorted(folder.iterdir()):
        for row, record in facility_records(path):
            found = set()
            if record is None:
                findings.add((path.name, row, "invalid_json"))
                continue
            fid = record.get("facility_id")
            fid = fid.strip() if isinstance(fid, str) else fid
            if not fid:
                found.add("missing_facility_id")
            count = record.get("employee_count")
            if count is not None and (not isinstance(count, (int, float)) or count < 0 or count != int(count)):
                found.add("invalid_employee_count")
            if (record.get("location", record)).get("state") not in USPS:
                found.add("invalid_state")
            if not record.get("accreditations"):
                found.add("missing_accreditations")
            days = [parse_date(e, datetimes=True) for e in expiries(record)]
            if None in days:
                found.add("unparseable_expiry_date")
            if any(d and d < run_date for d in days):
                found.add("expired_accreditation")
            if fid and fid in seen:
                found.add("duplicate_facility")
            seen.add(fid)
            findings |= {(path.name, row, rule) for rule in found}
    return findings


def test_same_seed_writes_identical_files_and_another_seed_does_not(tmp_path):
    runs = [
        generate(tmp_path / name, patients=1200, facilities=60, seed=seed, run_date=RUN_DATE)
        for name, seed in (("a", 3), ("b", 3), ("c", 4))
    ]
    assert runs[0] == runs[1]
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert (tmp_path / "a" / "ground_truth.csv").read_bytes() != (tmp_path / "c" / "ground_truth.csv").read_bytes()


def test_every_rule_is_injected_at_least_twice(sample):
    out, summary = sample
    assert set(summary["defects"]) == set(PATIENT_RULES + FACILITY_RULES)
    assert min(summary["defects"].values()) >= 2
    truth = ground_truth(out, "patients") | ground_truth(out, "facilities")
    assert collections.Counter(rule for _, _, rule in truth) == summary["defects"]


def test_files_parse_and_counts_match(sample):
    out, summary = sample
    assert sorted(p.name for p in (out / "patients").iterdir()) == sorted(summary["patients_files"])
    assert sum(len(read_patients(p)[1]) for p in (out / "patients").iterdir()) == summary["patients_rows"] == 4000
    records = [r for p in (out / "facilities").iterdir() for r in facility_records(p)]
    assert len(records) == summary["facilities_records"] == 300


def test_patient_oracle_finds_exactly_the_ground_truth(sample):
    out, _ = sample
    assert all_patient_findings(out) == ground_truth(out, "patients")


def test_facility_oracle_finds_exactly_the_ground_truth(sample):
    out, _ = sample
    assert facility_findings(out / "facilities", RUN_DATE) == ground_truth(out, "facilities")


@pytest.mark.parametrize(
    "seed, patient_files, facility_files, defect_rate",
    [(1, 3, 6, 0.2), (2, 1, 2, 0.05), (11, 4, 5, 0.0), (5, 2, 4, 0.45)],
)
def test_exactness_holds_across_seeds_and_layouts(tmp_path, seed, patient_files, facility_files, defect_rate):
    generate(
        tmp_path,
        patients=6000,
        facilities=150,
        seed=seed,
        run_date=RUN_DATE,
        defect_rate=defect_rate,
        patient_files=patient_files,
        facility_files=facility_files,
    )
    assert all_patient_findings(tmp_path) == ground_truth(tmp_path, "patients")
    assert facility_findings(tmp_path / "facilities", RUN_DATE) == ground_truth(tmp_path, "facilities")


def test_injected_patient_rows_carry_their_defect(sample):
    out, _ = sample
    for file, row, rule in ground_truth(out, "patients"):
        names, records = read_patients(out / "patients" / file)
        cells = dict(zip(names, records[row - 1]))
        if rule == "missing_age":
            assert cells["age"].strip() == ""
        if rule == "missing_discharge_date":
            assert cells["discharge_date"].strip() == ""
        if rule == "duplicate_row":
            assert records[row - 1] in records[: row - 1]


def test_clean_patient_rows_are_valid_unique_and_varied(sample):
    out, _ = sample
    defects = {(f, r) for f, r, _ in ground_truth(out, "patients")}
    headers, stays, spellings = [], set(), collections.defaultdict(set)
    for path in (out / "patients").iterdir():
        names, records = read_patients(path)
        headers.append(names)
        groups = collections.Counter()
        for row, raw in enumerate(records, start=1):
            if (path.name, row) in defects:
                continue
            v = dict(zip(names, (x.strip() for x in raw)))
            adm, dis = parse_date(v["admission_date"]), parse_date(v["discharge_date"])
            assert (v["patient_id"], adm) not in stays
            stays.add((v["patient_id"], adm))
            assert RUN_DATE - dt.timedelta(days=731) <= adm <= dis <= RUN_DATE
            assert 0 <= int(float(v["age"])) <= 100
            groups[v["diagnosis"]] += 1
            spellings["gender"].add(v["gender"])
            spellings["date"].add("us" if "/" in v["admission_date"] else "iso")
        assert len(groups) >= 15 and min(groups.values()) >= 30
    assert len({pid for pid, _ in stays}) < len(stays)  # some patients are readmitted on another day
    assert {"M", "F", "male", "FEMALE"} <= spellings["gender"] and spellings["date"] == {"us", "iso"}
    assert any("ward" in h for h in headers) and len({tuple(h[:7]) for h in headers}) == len(headers)


def test_facility_files_cover_containers_variants_and_a_bom(sample):
    out, _ = sample
    paths = sorted((out / "facilities").iterdir())
    assert [p.name.split("_")[2].split(".")[0] for p in paths] == ["object", "array", "ndjson", "wrapper"]
    assert sum(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in paths) == 1
    variants = [{"location" in r for _, r in facility_records(p) if r} for p in paths]
    assert any(v == {True, False} for v in variants)


def test_nested_records_carry_seed_002_labs_and_a_street_address(sample):
    out, _ = sample
    nested = [
        r for p in sorted((out / "facilities").iterdir()) for _, r in facility_records(p) if r and "location" in r
    ]
    assert nested and all(r["location"]["address"].split(" ", 1)[0].isdigit() for r in nested)
    labs = [lab for r in nested for lab in r["labs"]]
    assert labs and all(set(lab) == {"lab_name", "certifications"} and lab["certifications"] for lab in labs)
    assert {c for lab in labs for c in lab["certifications"]} >= {"CLIA", "CAP"}
    assert any(not r["labs"] for r in nested) and any(len(r["labs"]) >= 2 for r in nested)


def test_clean_accreditations_are_unexpired_and_fill_every_expiry_tier(sample):
    out, _ = sample
    defects = {(f, r) for f, r, _ in ground_truth(out, "facilities")}
    days, ids = [], []
    for path in sorted((out / "facilities").iterdir()):
        for row, record in facility_records(path):
            if (path.name, row) not in defects:
                assert record["accreditations"]
                ids.append(record["facility_id"])
                days += [(parse_date(e, datetimes=True) - RUN_DATE).days for e in expiries(record)]
    assert len(ids) == len(set(ids))
    assert min(days) >= 1 and max(days) <= 3 * 365 and {30, 180} <= set(days)
    tiers = collections.Counter(next(t for t in (30, 60, 90, 180, 10_000) if d <= t) for d in days)
    assert all(tiers[t] >= 2 for t in (30, 60, 90, 180, 10_000))


def test_a_million_patient_rows_generate_with_their_ground_truth(tmp_path):
    # Its speed is the bench's business (bench/inputs.py generates the 1M/5M inputs); here only the result.
    summary = generate(tmp_path, patients=1_000_000, run_date=RUN_DATE)
    with open(tmp_path / "ground_truth.csv", encoding="utf-8") as fh:
        assert sum(1 for _ in fh) - 1 == sum(summary["defects"].values()) > 40_000
