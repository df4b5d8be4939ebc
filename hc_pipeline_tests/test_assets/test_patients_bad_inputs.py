"""Every file of the bad-input corpus gets a clear, asserted outcome, and the next file is still processed.

Corpus (17 files):
 1 empty.csv                 0 bytes                               -> quarantined whole: file is empty
 2 blank.csv                 whitespace only                       -> quarantined whole: file is empty
 3 scan.png                  PNG bytes with NULs                   -> quarantined whole: binary content
 4 header_only.csv           header, no rows                       -> quarantined whole: header only
 5 no_age_gender.csv         required columns absent               -> quarantined whole: required columns missing
 6 semicolons.csv            ';' delimiter hides the columns       -> quarantined whole: names the delimiter
 7 tabs.tsv                  tab delimiter                         -> quarantined whole
 8 open_quote.csv            unterminated quoted field             -> quarantined whole
 9 bom_crlf.csv              UTF-8 BOM, CRLF, odd header case      -> all rows curated
10 latin1.csv                Latin-1 text                          -> curated, text decoded
11 quoted_multiline.csv      quoted commas and newlines            -> curated, row numbers by record
12 ragged.csv                rows with too many / too few fields   -> those rows quarantined: malformed_row
13 all_bad_rows.csv          every row breaks an error rule        -> 0 curated, all quarantined
14 spellings.csv             US dates, gender spellings            -> curated and normalised
15 duplicates.csv            exact duplicate and duplicate stay    -> duplicate_row quarantined, duplicate_stay warned
16 reordered_extra.csv       columns in another order + extra      -> curated; extra column kept raw only
17 implausible.csv           future admission, age 130, -1         -> quarantined with the rule ids
"""

import json

import dagster as dg
import pandas as pd
import pytest

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline_tests.conftest import RUN_DATE, check_evaluations, process

HEADER = "patient_id,age,gender,admission_date,discharge_date,diagnosis\n"
GOOD = "P1,40,M,2024-01-01,2024-01-03,Flu\n"

WHOLE_FILE = {
    "empty.csv": (b"", "file is empty"),
    "blank.csv": (b"  \n\n ", "file is empty"),
    "scan.png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    "header_only.csv": (HEADER.encode(), "header only"),
    "no_age_gender.csv": (
        b"patient_id,admission_date,discharge_date,diagnosis\nP1,2024-01-01,,Flu\n",
        "required columns missing: age, gender",
    ),
    "semicolons.csv": (HEADER.replace(",", ";").encode() + GOOD.replace(",", ";").encode(), "';'-delimited"),
    "tabs.tsv": (HEADER.replace(",", "\t").encode() + GOOD.replace(",", "\t").encode(), "required columns missing"),
    "open_quote.csv": (HEADER.encode() + b'P1,40,M,2024-01-01,2024-01-03,"Flu\nP2,1,F', "unterminated quoted field"),
}

ROW_LEVEL = {
    "bom_crlf.csv": "\ufeffPatient ID , AGE,Gender,Admission Date,Discharge_Date,DIAGNOSIS\r\nP1,40,M,2024-01-01,2024-01-03,Flu\r\nP2,41,F,2024-01-02,2024-01-04,Flu\r\n".encode(),
    "latin1.csv": (HEADER + "P1,40,M,2024-01-01,2024-01-03,Fièvre aiguë\n").encode("latin-1"),
    "quoted_multiline.csv": (
        HEADER + 'P1,40,M,2024-01-01,2024-01-03,"Flu, severe\nwith cough"\nP2,50,F,2024-01-01,2024-01-02,"Say ""ah"""\n'
    ).encode(),
    "ragged.csv": (HEADER + GOOD + "P2,41,F,2024-01-01\n" + "P3,42,F,2024-01-01,2024-01-02,Flu,extra,more\n").encode(),
    "all_bad_rows.csv": (HEADER + ",40,M,2024-01-01,2024-01-03,Flu\nP2,abc,F,,2024-01-03,Flu\n").encode(),
    "spellings.csv": (
        HEADER
        + "P1,40,male,01/05/2024,01/09/2024,Flu\nP2,50,FEMALE,2024-01-05,,Flu\nP3,60,f,2024-01-06,2024-01-07,Flu\n"
    ).encode(),
    "duplicates.csv": (HEADER + GOOD + GOOD + "P1,40,M,01/01/2024,2024-01-05,Cold\n").encode(),
    "reordered_extra.csv": b"diagnosis,ward,discharge_date,admission_date,gender,age,patient_id\nFlu,W3,2024-01-03,2024-01-01,F,33,P7\n",
    "implausible.csv": (
        HEADER
        + "P1,40,M,2030-01-01,2030-01-02,Flu\nP2,130,F,2024-01-01,2024-01-02,Flu\nP3,-1,F,2024-01-01,2024-01-02,Flu\n"
    ).encode(),
}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("hc_home")


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture(scope="module")
def processed(home, instance):
    resources = build_resources({"HC_HOME": str(home)})
    for name, (data, _) in WHOLE_FILE.items():
        resources["landing"].put(f"patients/{name}", data)
    for name, data in ROW_LEVEL.items():
        resources["landing"].put(f"patients/{name}", data)
    summary = process(make_definitions(resources), instance)
    return summary, resources["query_engine"]


def table(engine, name: str, source: str) -> pd.DataFrame:
    return engine.query(f"SELECT * FROM {name} WHERE source_file = 'patients/{source}' ORDER BY source_row")


def test_corpus_has_at_least_fifteen_distinct_files():
    assert len(WHOLE_FILE) + len(ROW_LEVEL) >= 15
    assert len({d for d, _ in WHOLE_FILE.values()} | set(ROW_LEVEL.values())) == len(WHOLE_FILE) + len(ROW_LEVEL)


def test_unreadable_files_are_quarantined_whole_with_their_reason(processed, home):
    summary, _ = processed
    assert summary.failed == []
    assert len(summary.stopped_by_checks) == len(WHOLE_FILE)
    for name, (data, reason) in WHOLE_FILE.items():
        [copy] = list((home / "quarantine" / "patients").glob(f"*/{name}"))
        assert copy.read_bytes() == data
        recorded = json.loads((copy.parent / f"{name}.reason.json").read_text())
        assert reason in recorded["reason"] and recorded["file"] == f"patients/{name}"


def test_unreadable_file_fails_its_blocking_check_and_nothing_downstream_is_written(processed, instance, home):
    failed = [e for e in check_evaluations(instance) if e.check_name == "file_readable" and not e.passed]
    reasons = {e.metadata["source_file"].value: e.metadata["reason"].value for e in failed}
    assert set(reasons) == {f"patients/{name}" for name in WHOLE_FILE}
    assert all(f"patients/{name}: " in reasons[f"patients/{name}"] for name in WHOLE_FILE)
    curated_files = {p.name.split("@")[0] for p in (home / "lake" / "patients" / "curated_records").glob("*.parquet")}
    assert not any(name.split(".")[0] in key for key in curated_files for name in WHOLE_FILE)


def test_conservation_holds_for_every_readable_file(processed):
    _, engine = processed
    counts = engine.query(
        """SELECT r.source_file, r.n AS raw, coalesce(c.n, 0) AS curated, coalesce(q.n, 0) AS quarantined
           FROM (SELECT source_file, count(*) n FROM patients_raw_records GROUP BY 1) r
           LEFT JOIN (SELECT source_file, count(*) n FROM patients_curated_records GROUP BY 1) c USING (source_file)
           LEFT JOIN (SELECT source_file, count(*) n FROM patients_quarantined_records GROUP BY 1) q USING (source_file)"""
    )
    assert len(counts) == len(ROW_LEVEL)
    assert (counts["raw"] == counts["curated"] + counts["quarantined"]).all()


def test_bom_crlf_and_header_case_are_tolerated(processed):
    curated = table(processed[1], "patients_curated_records", "bom_crlf.csv")
    assert curated["patient_id"].tolist() == ["P1", "P2"] and curated["diagnosis"].tolist() == ["Flu", "Flu"]


def test_latin1_text_is_decoded(processed):
    assert table(processed[1], "patients_curated_records", "latin1.csv")["diagnosis"].tolist() == ["Fièvre aiguë"]


def test_quoted_fields_keep_commas_newlines_and_record_numbers(processed):
    curated = table(processed[1], "patients_curated_records", "quoted_multiline.csv")
    assert curated["diagnosis"].tolist() == ["Flu, severe\nwith cough", 'Say "ah"']
    assert curated["source_row"].tolist() == [1, 2]


def test_ragged_rows_are_quarantined_as_malformed(processed):
    quarantined = table(processed[1], "patients_quarantined_records", "ragged.csv")
    assert quarantined["source_row"].tolist() == [2, 3]
    assert all("malformed_row" in list(r) for r in quarantined["reasons"])
    assert table(processed[1], "patients_curated_records", "ragged.csv")["source_row"].tolist() == [1]


def test_a_file_of_only_bad_rows_curates_nothing_and_quarantines_all(processed):
    assert table(processed[1], "patients_curated_records", "all_bad_rows.csv").empty
    reasons = [sorted(r) for r in table(processed[1], "patients_quarantined_records", "all_bad_rows.csv")["reasons"]]
    assert reasons == [["missing_patient_id"], ["missing_admission_date", "unparseable_age"]]


def test_us_dates_and_gender_spellings_are_normalised(processed):
    curated = table(processed[1], "patients_curated_records", "spellings.csv")
    assert curated["gender"].tolist() == ["Male", "Female", "Female"]
    assert str(curated["admission_date"].iloc[0])[:10] == "2024-01-05"
    assert curated["length_of_stay_days"].tolist()[0] == 4


def test_duplicate_row_is_quarantined_and_duplicate_stay_is_warned(processed):
    quarantined = table(processed[1], "patients_quarantined_records", "duplicates.csv")
    assert quarantined["source_row"].tolist() == [2] and list(quarantined["reasons"][0]) == ["duplicate_row"]
    curated = table(processed[1], "patients_curated_records", "duplicates.csv")
    assert [list(w) for w in curated["warnings"]] == [[], ["duplicate_stay"]]


def test_reordered_columns_and_extras_are_read_by_name(processed):
    curated = table(processed[1], "patients_curated_records", "reordered_extra.csv")
    assert curated[["patient_id", "age", "gender"]].values.tolist() == [["P7", 33, "Female"]]
    assert "ward" not in curated.columns
    assert table(processed[1], "patients_raw_records", "reordered_extra.csv")["ward"].tolist() == ["W3"]


def test_implausible_rows_are_quarantined_with_rule_ids(processed):
    quarantined = table(processed[1], "patients_quarantined_records", "implausible.csv")
    assert [list(r) for r in quarantined["reasons"]] == [
        ["future_admission"],
        ["age_out_of_range"],
        ["age_out_of_range"],
    ]
    assert RUN_DATE.year < 2030
