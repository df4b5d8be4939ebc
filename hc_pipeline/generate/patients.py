"""Synthetic patient admission CSVs in which every defective row breaks exactly one rule."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

# name, ICD-10 code, clean length-of-stay range in days (inclusive), relative frequency
DIAGNOSES = [
    ("Pneumonia", "J18.9", 3, 9, 12),
    ("Heart failure", "I50.9", 3, 10, 11),
    ("Sepsis, unspecified organism", "A41.9", 5, 14, 8),
    ("Hip fracture", "S72.001A", 4, 12, 6),
    ("COPD with acute exacerbation", "J44.1", 2, 8, 9),
    ("Acute myocardial infarction", "I21.9", 3, 9, 7),
    ("Ischemic stroke", "I63.9", 4, 14, 6),
    ("Urinary tract infection", "N39.0", 1, 5, 8),
    ("Cellulitis", "L03.90", 2, 7, 6),
    ("Type 2 diabetes with hyperglycemia", "E11.65", 1, 6, 5),
    ("Acute kidney injury", "N17.9", 2, 8, 6),
    ("Atrial fibrillation", "I48.91", 1, 5, 6),
    ("Acute appendicitis", "K35.80", 1, 5, 4),
    ("Chest pain", "R07.9", 0, 4, 7),
    ("Gastrointestinal hemorrhage", "K92.2", 2, 7, 5),
    ("Asthma", "J45.901", 1, 5, 4),
]
PATIENT_ERRORS = (
    "missing_patient_id",
    "missing_admission_date",
    "unparseable_date",
    "unparseable_age",
    "age_out_of_range",
    "discharge_before_admission",
    "future_admission",
    "duplicate_row",
)
PATIENT_WARNINGS = (
    "missing_age",
    "missing_gender",
    "missing_diagnosis",
    "missing_discharge_date",
    "invalid_gender",
    "invalid_diagnosis_code",
    "duplicate_stay",
    "los_outlier",
)
PATIENT_RULES = PATIENT_ERRORS + PATIENT_WARNINGS
COLUMNS = ["patient_id", "age", "gender", "admission_date", "discharge_date", "diagnosis", "diagnosis_code"]

_R = {rule: i for i, rule in enumerate(PATIENT_RULES)}
_NAMES = np.array([d[0] for d in DIAGNOSES], dtype=object)
_CODES = [d[1] for d in DIAGNOSES]
_LO = np.array([d[2] for d in DIAGNOSES])
_HI = np.array([d[3] for d in DIAGNOSES])
_FREQ = np.array([d[4] for d in DIAGNOSES], dtype=float) / sum(d[4] for d in DIAGNOSES)
# Far beyond any clean stay: at least 40 days past the range and ~18 MADs of a uniform range.
_OUTLIER_LOS = _HI + 40 + 4 * (_HI - _LO)
_HISTORY = 730  # admissions fall in the two years before the run date
_MIN_GROUP = 40  # rows per diagnosis and file, so each los_outlier group keeps >= 30 after defects
_MIN_BEFORE = 30  # a row copying an earlier clean row sits at least this deep in its file
_DATE_LOW, _DATE_HIGH = -_HISTORY - 100, 120  # day offsets from the run date covered by the date tables
# Warnings keep a row in the LOS population; duplicate_stay rows change diagnosis, so they count too.
_IN_POPULATION = [-1] + [
    _R[r] for r in ("missing_age", "missing_gender", "invalid_gender", "invalid_diagnosis_code", "duplicate_stay")
]

_GENDERS = np.array(
    ["M", "F", "Male", "Female", "male", "female", "FEMALE", "MALE", "m", "f", " F ", "O", "Other", "U", "unknown"],
    dtype=object,
)
_GENDER_P = np.array([16, 16, 12, 12, 8, 8, 5, 5, 4, 4, 2, 2, 2, 2, 2], dtype=float)
_WARDS = np.array(
    [
        "Medical 3B",
        "Cardiology",
        "ICU",
        "Orthopedics",
        "Step-down",
        "Geriatrics",
        'Surgical "Blue"',
        "Overflow, east wing",
        "Observation\nunit",
    ],
    dtype=object,
)
_WARD_P = np.array([20, 18, 10, 14, 12, 16, 4, 4, 2], dtype=float)

_BAD_AGES = ["45.5", "abc", "4O", "sixty", "72y", "3.25", "N/A"]
_OUT_OF_RANGE_AGES = ["-1", "-4", "121", "130", "150", "999", "135.0"]
_BAD_GENDERS = ["X", "NA", "unk", "N/A", "?", "MF", "null", "femal", "9"]
_BAD_CODES = ["U07.1", "123.4", "J1", "J18.95555", "18.9", "ICD-J18", "j18-9", "??"]
_BLANKS = ["", "", "", "  "]


@dataclasses.dataclass(frozen=True)
class _Style:
    """How one patients file spells its header and dates."""

    name: str
    header: dict[str, str]
    order: list[str]
    ward: bool
    us_share: float


_STYLES = [
    _Style("admissions_{:02d}.csv", {c: c for c in COLUMNS}, COLUMNS, False, 0.15),
    _Style(
        "adm [v{}], émission.csv",
        {
            "patient_id": "Patient ID",
            "age": "AGE",
            "gender": " Gender ",
            "admission_date": "Admission-Date",
            "discharge_date": "Discharge  Date",
            "diagnosis": "Diagnosis",
            "diagnosis_code": "Diagnosis Code",
            "ward": "Ward",
        },
        ["admission_date", "patient_id", "diagnosis", "diagnosis_code", "gender", "age", "discharge_date"],
        True,
        0.7,
    ),
    _Style(
        "admissions_export_{:02d}.csv",
        {c: c.upper() for c in COLUMNS},
        ["patient_id", "diagnosis_code", "diagnosis", "admission_date", "discharge_date", "age", "gender"],
        False,
        0.5,
    ),
]


@dataclasses.dataclass
class PatientFile:
    """One generated CSV: its base name, string cells under the written header, and (1-based row, rule) defects."""

    name: str
    frame: pd.DataFrame
    defects: list[tuple[int, str]]


def build_patient_files(
    rng: np.random.Generator, total: int, n_files: int, defect_rate: float, run_date: dt.date
) -> list[PatientFile]:
    """Generate `total` admission rows over `n_files` files, each defect row carrying exactly one rule."""
    sizes = np.array([len(a) for a in np.array_split(np.arange(total), n_files)])
    starts = np.cumsum(sizes) - sizes
    file_of = np.repeat(np.arange(n_files), sizes)
    local = np.arange(total) - np.repeat(starts, sizes)
    rows = _clean_rows(rng, sizes)
    label = _assign_rules(rng, local, defect_rate)
    _readmit(rng, rows, label)
    origin = _pick_originals(rng, rows, label, local)
    _second_stays(rng, rows, label, origin)
    _numeric_defects(rng, rows, label, file_of, n_files)
    cells = _strings(rng, rows, file_of, run_date)
    _string_defects(rng, cells, label, run_date)
    copies = np.flatnonzero(label == _R["duplicate_row"])
    for column in cells.values():
        column[copies] = column[origin[copies]]
    _separate_blank_id_twins(cells, label, file_of)
    files = []
    for f, (start, size) in enumerate(zip(starts, sizes)):
        style = _STYLES[f % len(_STYLES)]
        part = slice(start, start + size)
        order = style.order + (["ward"] if style.ward else [])
        frame = pd.DataFrame({style.header[c]: cells[c][part] for c in order})
        defects = [(int(i) + 1, PATIENT_RULES[label[start + i]]) for i in np.flatnonzero(label[part] >= 0)]
        files.append(PatientFile(style.name.format(f + 1), frame, defects))
    return files


def _clean_rows(rng: np.random.Generator, sizes: np.ndarray) -> dict[str, np.ndarray]:
    """Numeric columns of clean admissions, discharged by the run date, with unique patient ids."""
    diag = []
    for size in sizes:
        floor = min(_MIN_GROUP, size // len(DIAGNOSES))
        extra = rng.choice(len(DIAGNOSES), size - floor * len(DIAGNOSES), p=_FREQ)
        diag.append(rng.permutation(np.concatenate([np.repeat(np.arange(len(DIAGNOSES)), floor), extra])))
    diag = np.concatenate(diag).astype(np.int64)
    n = len(diag)
    los = rng.integers(_LO[diag], _HI[diag] + 1)
    adm = -(los + rng.integers(0, _HISTORY - los + 1))
    child = rng.random(n) < 0.07
    age = np.where(child, rng.integers(0, 18, n), 18 + np.rint(82 * rng.beta(2.6, 1.5, n)).astype(np.int64))
    pid = rng.permutation(1_000_000 + np.cumsum(rng.integers(1, 60, n)))
    gender = rng.choice(len(_GENDERS), n, p=_GENDER_P / _GENDER_P.sum())
    return {"pid": pid, "age": age, "gender": gender, "adm": adm, "dis": adm + los, "diag": diag}


def _assign_rules(rng: np.random.Generator, local: np.ndarray, defect_rate: float) -> np.ndarray:
    """Rule index per row (-1 = clean): about `defect_rate` of rows; every rule twice from 1,000 rows if rate > 0."""
    n = len(local)
    k = int(rng.binomial(n, defect_rate))
    if n >= 1000 and defect_rate > 0:
        k = max(k, 2 * len(PATIENT_RULES))
    k = min(k, n // 2)
    labels = rng.permutation(np.resize(rng.permutation(len(PATIENT_RULES)), k))
    positions = rng.permutation(n)[:k]
    # Rules that copy an earlier clean row take the positions deep enough in their file.
    copying = np.isin(labels, [_R["duplicate_row"], _R["duplicate_stay"]])
    deep = local[positions] >= _MIN_BEFORE
    label = np.full(n, -1, dtype=np.int64)
    label[np.concatenate([positions[deep], positions[~deep]])] = np.concatenate([labels[copying], labels[~copying]])
    label[np.isin(label, [_R["duplicate_row"], _R["duplicate_stay"]]) & (local < _MIN_BEFORE)] = -1
    return label


def _readmit(rng: np.random.Generator, rows: dict[str, np.ndarray], label: np.ndarray) -> None:
    """Give some clean rows the id of another clean patient admitted on a different day."""
    clean = np.flatnonzero(label < 0)
    again = rng.random(len(clean)) < 0.08
    readmits, sources = clean[again], clean[~again]
    if not len(readmits) or not len(sources):
        return
    own = rows["pid"][readmits].copy()
    source = rng.choice(sources, len(readmits))
    for key in ("pid", "age", "gender"):
        rows[key][readmits] = rows[key][source]
    clash = pd.DataFrame({"p": rows["pid"], "a": rows["adm"]}).duplicated(keep=False).to_numpy()[readmits]
    rows["pid"][readmits[clash]] = own[clash]


def _pick_originals(rng: np.random.Generator, rows: dict, label: np.ndarray, local: np.ndarray) -> np.ndarray:
    """A distinct earlier clean row of the same file for each duplicate_row/duplicate_stay row, else it stays clean."""
    origin = np.full(len(label), -1, dtype=np.int64)
    used: set[int] = set()
    stay = _R["duplicate_stay"]
    for i in np.flatnonzero(np.isin(label, [_R["duplicate_row"], stay])):
        for _ in range(200):
            j = int(rng.integers(i - local[i], i))
            # The second stay must end by the run date whatever its diagnosis.
            if label[j] < 0 and j not in used and (label[i] != stay or rows["adm"][j] <= -_HI.max()):
                used.add(j)
                origin[i] = j
                break
        else:
            label[i] = -1
    return origin


def _second_stays(rng: np.random.Generator, rows: dict, label: np.ndarray, origin: np.ndarray) -> None:
    """duplicate_stay rows: the original's patient and admission day, another diagnosis with an ordinary stay."""
    i = np.flatnonzero(label == _R["duplicate_stay"])
    j = origin[i]
    for key in ("pid", "age", "gender", "adm"):
        rows[key][i] = rows[key][j]
    diag = (rows["diag"][j] + rng.integers(1, len(DIAGNOSES), len(i))) % len(DIAGNOSES)
    rows["diag"][i] = diag
    rows["dis"][i] = rows["adm"][i] + rng.integers(_LO[diag], _HI[diag] + 1)


def _numeric_defects(
    rng: np.random.Generator, rows: dict, label: np.ndarray, file_of: np.ndarray, n_files: int
) -> None:
    """Future admissions, discharges before admission and length-of-stay outliers."""
    adm, dis, diag = rows["adm"], rows["dis"], rows["diag"]
    m = label == _R["future_admission"]
    los = dis[m] - adm[m]
    adm[m] = rng.integers(1, 61, m.sum())
    dis[m] = adm[m] + los
    m = label == _R["discharge_before_admission"]
    dis[m] = adm[m] - rng.integers(1, 15, m.sum())
    counts = np.zeros((n_files, len(DIAGNOSES)), dtype=np.int64)
    pop = np.isin(label, _IN_POPULATION)
    np.add.at(counts, (file_of[pop], diag[pop]), 1)
    for i in np.flatnonzero(label == _R["los_outlier"]):
        eligible = np.flatnonzero(counts[file_of[i]] >= 30)  # the rule skips groups under 30 rows
        if not len(eligible):
            label[i] = -1
            continue
        d = diag[i] = rng.choice(eligible)
        adm[i] = -(_OUTLIER_LOS[d] + rng.integers(0, _HISTORY - _OUTLIER_LOS[d] + 1))
        dis[i] = adm[i] + _OUTLIER_LOS[d]


def _strings(rng: np.random.Generator, rows: dict, file_of: np.ndarray, run_date: dt.date) -> dict[str, np.ndarray]:
    """Object arrays of cell text, with varied valid spellings of ages, genders, dates and codes."""
    n = len(file_of)
    days = [run_date + dt.timedelta(days=o) for o in range(_DATE_LOW, _DATE_HIGH + 1)]
    iso = np.array([d.isoformat() for d in days], dtype=object)
    us = np.array([d.strftime("%m/%d/%Y") for d in days], dtype=object)
    us_share = np.array([_STYLES[f % len(_STYLES)].us_share for f in range(int(file_of.max()) + 1)])[file_of]

    def dates(offset: np.ndarray) -> np.ndarray:
        return np.where(rng.random(n) < us_share, us[offset - _DATE_LOW], iso[offset - _DATE_LOW])

    ages = np.array([[str(a), f"{a}.0", f" {a}"] for a in range(101)], dtype=object)
    codes = np.array([[c, c.lower(), c.replace(".", ""), f" {c} "] for c in _CODES], dtype=object)
    return {
        "patient_id": np.array([f"P{p:08d}" for p in rows["pid"].tolist()], dtype=object),
        "age": ages[rows["age"], rng.choice(3, n, p=[0.95, 0.03, 0.02])],
        "gender": _GENDERS[rows["gender"]],
        "admission_date": dates(rows["adm"]),
        "discharge_date": dates(rows["dis"]),
        "diagnosis": _NAMES[rows["diag"]],
        "diagnosis_code": codes[rows["diag"], rng.choice(4, n, p=[0.8, 0.08, 0.08, 0.04])],
        "ward": rng.choice(_WARDS, n, p=_WARD_P / _WARD_P.sum()),
    }


def _string_defects(rng: np.random.Generator, cells: dict, label: np.ndarray, run_date: dt.date) -> None:
    """Blank or garble the one cell each text-level rule is about."""

    def put(rule: str, column: str, choices: list[str], rows: np.ndarray | None = None) -> None:
        rows = np.flatnonzero(label == _R[rule]) if rows is None else rows
        cells[column][rows] = np.array(choices, dtype=object)[rng.integers(0, len(choices), len(rows))]

    for rule, column in [
        ("missing_patient_id", "patient_id"),
        ("missing_admission_date", "admission_date"),
        ("missing_age", "age"),
        ("missing_gender", "gender"),
        ("missing_diagnosis", "diagnosis"),
        ("missing_discharge_date", "discharge_date"),
    ]:
        put(rule, column, _BLANKS)
    put("unparseable_age", "age", _BAD_AGES)
    put("age_out_of_range", "age", _OUT_OF_RANGE_AGES)
    put("invalid_gender", "gender", _BAD_GENDERS)
    put("invalid_diagnosis_code", "diagnosis_code", _BAD_CODES)
    y = run_date.year - 1
    bad = [f"{y}-02-30", f"04/31/{y}", f"13/45/{y}", "yesterday", "N/A", f"{y}/01/15", f"15.03.{y}", "TBD"]
    rows = np.flatnonzero(label == _R["unparseable_date"])
    on_admission = rng.random(len(rows)) < 0.5
    put("unparseable_date", "admission_date", bad, rows[on_admission])
    put("unparseable_date", "discharge_date", bad, rows[~on_admission])


def _separate_blank_id_twins(cells: dict, label: np.ndarray, file_of: np.ndarray) -> None:
    """Two id-less rows could coincide by chance and become a duplicate_row; nudge the later one's age."""
    rows = np.flatnonzero(label == _R["missing_patient_id"])
    others = [c for c in COLUMNS if c != "patient_id"]
    while len(rows):
        key = pd.DataFrame({c: pd.Series(cells[c][rows]).str.strip() for c in others})
        key["file"] = file_of[rows]
        twins = rows[key.duplicated().to_numpy()]
        if not len(twins):
            return
        cells["age"][twins] = [str((int(float(a)) + 1) % 101) for a in cells["age"][twins]]
