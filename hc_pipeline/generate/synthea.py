"""A Synthea-shaped CSV export in a zip, with hand-checkable readmission cases and their expected answers."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import random
import uuid
import zipfile

PATIENT_COLUMNS = [
    "Id",
    "BIRTHDATE",
    "DEATHDATE",
    "SSN",
    "DRIVERS",
    "PASSPORT",
    "PREFIX",
    "FIRST",
    "MIDDLE",
    "LAST",
    "SUFFIX",
    "MAIDEN",
    "MARITAL",
    "RACE",
    "ETHNICITY",
    "GENDER",
    "BIRTHPLACE",
    "ADDRESS",
    "CITY",
    "STATE",
    "COUNTY",
    "FIPS",
    "ZIP",
    "LAT",
    "LON",
    "HEALTHCARE_EXPENSES",
    "HEALTHCARE_COVERAGE",
    "INCOME",
]
ENCOUNTER_COLUMNS = [
    "Id",
    "START",
    "STOP",
    "PATIENT",
    "ORGANIZATION",
    "PROVIDER",
    "PAYER",
    "ENCOUNTERCLASS",
    "CODE",
    "DESCRIPTION",
    "BASE_ENCOUNTER_COST",
    "TOTAL_CLAIM_COST",
    "PAYER_COVERAGE",
    "REASONCODE",
    "REASONDESCRIPTION",
]
CONDITION_COLUMNS = ["START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION"]
FOLDER = "csv/"

# SNOMED CT reasons for inpatient stays, as Synthea writes them.
REASONS = [
    ("233604007", "Pneumonia (disorder)"),
    ("84114007", "Heart failure (disorder)"),
    ("22298006", "Myocardial infarction (disorder)"),
    ("230690007", "Cerebrovascular accident (disorder)"),
    ("91302008", "Sepsis (disorder)"),
    ("5913000", "Fracture of neck of femur (disorder)"),
    ("185086009", "Chronic obstructive bronchitis (disorder)"),
    ("74400008", "Appendicitis (disorder)"),
    ("44054006", "Diabetes mellitus type 2 (disorder)"),
    ("68566005", "Urinary tract infectious disease (disorder)"),
    ("49436004", "Atrial fibrillation (disorder)"),
    ("128613002", "Seizure disorder (disorder)"),
]
_ADMISSION = ("32485007", "Hospital admission (procedure)")
_OTHER_CLASSES = [
    ("wellness", "162673000", "General examination of patient (procedure)"),
    ("ambulatory", "185345009", "Encounter for symptom (procedure)"),
    ("outpatient", "185349003", "Encounter for check up (procedure)"),
    ("emergency", "50849002", "Emergency room admission (procedure)"),
    ("urgentcare", "702927004", "Urgent care clinic (procedure)"),
]
_FIRST = {"M": ["Jacinto", "Tomas", "Reggie", "Lowell", "Amado"], "F": ["Shanta", "Marisela", "Tama", "Lyn", "Ozella"]}
_LAST = ["Kling", "Rempel", "Schaefer", "Okuneva", "Bergnaum", "Runolfsdottir", "Hand", "Wisozk"]
_STREETS = ["Trace", "Vale", "Station", "Run", "Gate", "Crossing"]
_RACES = ["white"] * 6 + ["black", "black", "asian", "native", "hawaiian", "other"]
_HISTORY = 700  # stays start within this many days before the run date
_MIN_AGE_DAYS = 3 * 366  # born before the admission window, so no birthdate equals any admission date


@dataclasses.dataclass
class _Stay:
    """One inpatient encounter: day offsets from the run date (None stop = still admitted)."""

    start: int
    stop: int | None
    reason: tuple[str, str] | None = None
    id: str = ""


# Each case: (name, birth age in years, stays as (start offset, stop offset), expected per stay with a stop
# as (readmitted_within_30_days, days_to_readmission)). Offsets are days relative to the run date.
CASES = [
    ("readmitted_on_day_30", 70, [(-300, -296), (-266, -263)], [(True, 30), (False, None)]),
    ("not_readmitted_on_day_31", 45, [(-300, -295), (-264, -260)], [(False, 31), (False, None)]),
    ("same_day_readmission", 82, [(-200, -197), (-197, -190)], [(True, 0), (False, None)]),
    ("overlapping_stays", 60, [(-150, -140), (-146, -138)], [(False, None), (False, None)]),
    ("one_stay", 33, [(-120, -115)], [(False, None)]),
    ("readmitted_into_open_stay", 55, [(-40, -30), (-18, None)], [(True, 12)]),
    ("open_stay_only", 12, [(-5, None)], []),
]
# Visits that are not inpatient stays, inside a readmission window: they must not count as readmissions.
CASE_VISITS = {
    "not_readmitted_on_day_31": [(-290, _OTHER_CLASSES[1]), (-285, _OTHER_CLASSES[3])],
    "one_stay": [(-110, _OTHER_CLASSES[0])],
}


def synthea_zip(run_date: dt.date, seed: int, patients: int = 200) -> tuple[bytes, dict]:
    """Zip bytes holding csv/patients.csv, csv/encounters.csv, csv/conditions.csv, and the expected answers."""
    if patients < len(CASES) + 1:
        raise ValueError(f"need at least {len(CASES) + 1} patients for the hand-checkable cases")
    rng = random.Random(seed)
    day = lambda offset: run_date + dt.timedelta(days=offset)  # noqa: E731
    people, plans, cases = [], [], {}
    for name, age, spans, expected in CASES:
        person = _person(rng, run_date, age)
        stays = [_Stay(start, stop, rng.choice(REASONS)) for start, stop in spans]
        people.append(person)
        plans.append(stays)
        cases[name] = {"patient_id": person["Id"], "stays": stays, "expected": expected}
    # Birthday case: admitted the day before the 50th birthday, readmitted on it.
    on = -200 if (day(-200).month, day(-200).day) != (2, 29) else -201
    person = _person(rng, run_date, 50)
    person["BIRTHDATE"] = day(on).replace(year=day(on).year - 50).isoformat()
    people.append(person)
    plans.append([_Stay(on - 1, on, REASONS[0]), _Stay(on, on + 4, REASONS[1])])
    cases["birthday"] = {
        "patient_id": person["Id"],
        "stays": plans[-1],
        "expected": [(True, 0), (False, None)],
        "ages": [49, 50],
    }
    for _ in range(patients - len(people)):
        people.append(_person(rng, run_date, rng.randint(3, 95)))
        plans.append(_random_stays(rng))

    encounters, conditions, expected_stays = [], [], {}
    visits = {cases[name]["patient_id"]: extra for name, extra in CASE_VISITS.items()}
    for person, stays in zip(people, plans):
        rows = [_encounter(rng, person["Id"], day, s.start, s.stop, ("inpatient", *_ADMISSION), s) for s in stays]
        rows += [_encounter(rng, person["Id"], day, at, at, kind, None) for at, kind in visits.get(person["Id"], [])]
        for start in sorted(rng.sample(range(-_HISTORY, 0), rng.randint(1, 4))):
            rows.append(_encounter(rng, person["Id"], day, start, start, rng.choice(_OTHER_CLASSES), None))
        rows.sort(key=lambda row: row["START"])
        encounters += rows
        conditions += [_condition(person["Id"], day, s) for s in stays if s.reason]
        expected_stays.update(_expected(stays))
    for case in cases.values():
        ids = [s.id for s in case["stays"]]
        case["encounters"] = ids
        case["expected"] = {
            i: {"readmitted_within_30_days": r, "days_to_readmission": d}
            for i, (r, d) in zip(ids, case.pop("expected"))
        }
        case["ages"] = dict(zip(ids, case.get("ages", [])))
        del case["stays"]
    rng.shuffle(people)  # Synthea's patients.csv order has nothing to do with encounters.csv order

    inpatient = [e for e in encounters if e["ENCOUNTERCLASS"] == "inpatient"]
    row_of = {e["Id"]: row for row, e in enumerate(encounters, start=1)}
    truth = {
        "run_date": run_date.isoformat(),
        "patients": len(people),
        "inpatient_encounters": len(inpatient),
        "ignored_encounters": len(encounters) - len(inpatient),
        "open_stays": sum(1 for e in inpatient if not e["STOP"]),
        "stays": expected_stays,
        "overall": {
            "stays": len(expected_stays),
            "readmissions": sum(v["readmitted_within_30_days"] for v in expected_stays.values()),
        },
        "cases": cases,
        # (encounters.csv row, rule) of every finding curation should report; the SNOMED codes aside.
        "findings": [[row_of[e["Id"]], "missing_discharge_date"] for e in inpatient if not e["STOP"]],
    }
    files = {
        "patients.csv": (PATIENT_COLUMNS, people),
        "encounters.csv": (ENCOUNTER_COLUMNS, encounters),
        "conditions.csv": (CONDITION_COLUMNS, conditions),
    }
    return _zip(files, run_date), truth


def _random_stays(rng: random.Random) -> list[_Stay]:
    """0-4 stays in time order, none overlapping; the last may still be open."""
    stays, start = [], -rng.randint(60, _HISTORY)
    for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3, 4])):
        stop = start + rng.randint(1, 12)
        if stop > -1:
            break
        stays.append(_Stay(start, stop, rng.choice(REASONS) if rng.random() > 0.1 else None))
        start = stop + rng.choice([0, 1, 4, 9, 17, 29, 30, 31, 32, 60, 120])
    if stays and rng.random() < 0.05 and start < 0:
        stays.append(_Stay(start, None, rng.choice(REASONS)))
    return stays


def _expected(stays: list[_Stay]) -> dict[str, dict]:
    """Per stay with a stop: the next stay of the list is the next admission; an overlap is no readmission."""
    out = {}
    for i, stay in enumerate(stays):
        if stay.stop is None:
            continue
        gap = stays[i + 1].start - stay.stop if i + 1 < len(stays) else None
        gap = gap if gap is not None and gap >= 0 else None
        out[stay.id] = {"readmitted_within_30_days": gap is not None and gap <= 30, "days_to_readmission": gap}
    return out


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _person(rng: random.Random, run_date: dt.date, age: int) -> dict:
    """One patients.csv row with every identifier Synthea writes; born at least 3 years before the run date."""
    gender = rng.choice("MF")
    born = run_date - dt.timedelta(days=max(age * 365 + rng.randint(0, 364), _MIN_AGE_DAYS + rng.randint(0, 300)))
    married = age >= 20 and rng.random() < 0.5
    last = rng.choice(_LAST) + str(rng.randint(10, 999))
    return {
        "Id": _uuid(rng),
        "BIRTHDATE": born.isoformat(),
        "DEATHDATE": "",
        "SSN": f"999-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        "DRIVERS": f"S999{rng.randint(10000, 99999)}" if age >= 16 else "",
        "PASSPORT": f"X{rng.randint(10000000, 99999999)}X" if age >= 18 and rng.random() < 0.7 else "",
        "PREFIX": ("Mr." if gender == "M" else "Mrs." if married else "Ms.") if age >= 18 else "",
        "FIRST": rng.choice(_FIRST[gender]) + str(rng.randint(10, 999)),
        "MIDDLE": rng.choice(_FIRST[gender]) + str(rng.randint(10, 999)) if rng.random() < 0.6 else "",
        "LAST": last,
        "SUFFIX": rng.choice(["", "", "", "Jr.", "PhD", "MD"]) if age >= 18 else "",
        "MAIDEN": rng.choice(_LAST) + str(rng.randint(10, 999)) if married and gender == "F" else "",
        "MARITAL": ("M" if married else "S") if age >= 18 else "",
        "RACE": rng.choice(_RACES),
        "ETHNICITY": "hispanic" if rng.random() < 0.18 else "nonhispanic",
        "GENDER": gender,
        "BIRTHPLACE": "Boston  Massachusetts  US",
        "ADDRESS": f"{rng.randint(100, 999)} {rng.choice(_LAST)} {rng.choice(_STREETS)}"
        + (f" Unit {rng.randint(1, 99)}" if rng.random() < 0.3 else ""),
        "CITY": "Boston",
        "STATE": "Massachusetts",
        "COUNTY": "Suffolk County",
        "FIPS": "25025",
        "ZIP": f"02{rng.randint(100, 199)}",
        "LAT": f"{42.2 + rng.random() / 5:.12f}",
        "LON": f"{-71.2 + rng.random() / 5:.12f}",
        "HEALTHCARE_EXPENSES": f"{rng.uniform(1000, 900000):.2f}",
        "HEALTHCARE_COVERAGE": f"{rng.uniform(0, 50000):.2f}",
        "INCOME": str(rng.randint(15000, 250000)),
    }


def _timestamp(day: dt.date, rng: random.Random, hours: tuple[int, int]) -> str:
    return f"{day.isoformat()}T{rng.randint(*hours):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"


def _encounter(rng, patient: str, day, start: int, stop: int | None, kind: tuple, stay: _Stay | None) -> dict:
    """One encounters.csv row; inpatient stays start in the afternoon and end in the morning, so a same-day
    readmission is written after the discharge it follows."""
    encounter_class, code, description = kind
    encounter_id = _uuid(rng)
    reason = stay.reason if stay else (rng.choice(REASONS) if encounter_class == "emergency" else None)
    if stay:
        stay.id = encounter_id
    base = rng.uniform(80, 150)
    total = base * (rng.randint(5, 40) if stay else 1)
    return {
        "Id": encounter_id,
        "START": _timestamp(day(start), rng, (12, 22) if stay else (8, 10)),
        "STOP": "" if stop is None else _timestamp(day(stop), rng, (6, 11) if stay else (11, 11)),
        "PATIENT": patient,
        "ORGANIZATION": "ef58ea08-d883-3957-8300-150554edc8fb",
        "PROVIDER": "7a3b8e5c-5a5c-3b2c-9c1e-2a9f3e0b6d41",
        "PAYER": rng.choice(["b3221cfc-24fb-339e-823d-bc4136cbc4ed", "7caa7254-5050-3b5e-9eae-bd5ea30e809c"]),
        "ENCOUNTERCLASS": encounter_class,
        "CODE": code,
        "DESCRIPTION": description,
        "BASE_ENCOUNTER_COST": f"{base:.2f}",
        "TOTAL_CLAIM_COST": f"{total:.2f}",
        "PAYER_COVERAGE": f"{total * rng.uniform(0, 0.9):.2f}",
        "REASONCODE": reason[0] if reason else "",
        "REASONDESCRIPTION": reason[1] if reason else "",
    }


def _condition(patient: str, day, stay: _Stay) -> dict:
    return {
        "START": day(stay.start).isoformat(),
        "STOP": "" if stay.stop is None else day(stay.stop).isoformat(),
        "PATIENT": patient,
        "ENCOUNTER": stay.id,
        "CODE": stay.reason[0],
        "DESCRIPTION": stay.reason[1],
    }


def _zip(files: dict[str, tuple[list[str], list[dict]]], run_date: dt.date) -> bytes:
    """The CSVs under csv/, with fixed timestamps so one seed always gives the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, (columns, rows) in files.items():
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            info = zipfile.ZipInfo(FOLDER + name, date_time=(run_date.year, run_date.month, run_date.day, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.getvalue().encode("utf-8"))
    return out.getvalue()
