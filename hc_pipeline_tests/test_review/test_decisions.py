"""Reading and judging decisions files: every invalid line is named with its line number and value."""

import pandas as pd
import pytest

from hc_pipeline.review.decisions import (
    VALUE_CHECKS,
    judge,
    judge_with_state,
    ledger_rows,
    read_decisions,
    with_reviewer,
)

OPEN, CLOSED = "ex-00000000000000aa", "ex-00000000000000bb"
KNOWN = pd.DataFrame(
    {
        "exception_id": [OPEN, CLOSED, "ex-00000000000000cc"],
        "source_file": ["patients/a.csv"] * 3,
        "source_row": [3, 4, 5],
        "status": ["open", "accepted", "open"],
        "partition_key": ["a.csv@1"] * 3,
    }
)
HEADER = "exception_id,source_file,source_row,reasons,decision,note,age,reviewer\n"


def judged(body: str, known=KNOWN, **kwargs):
    return judge(read_decisions((HEADER + body).encode()), known, **kwargs)


def messages(body: str, **kwargs) -> list[str]:
    return [str(p) for p in judged(body, **kwargs).problems]


def test_a_valid_file_keeps_decided_lines_and_skips_undecided_ones():
    result = judged(f"{OPEN},patients/a.csv,3,age_out_of_range,Correct,typo,51,dana\nex-00000000000000cc,,,,,,,\n")
    assert result.valid and result.lines["decision"].tolist() == ["correct"]
    assert result.lines["line"].tolist() == [2]


@pytest.mark.parametrize(
    "line, expected",
    [
        (f"{OPEN},,,,approve,ok,,dana", "line 2: decision 'approve': is not one of correct, accept, reject"),
        (f"{OPEN},,,,accept,,,dana", "line 2: note: is required to accept"),
        (f"{OPEN},,,,reject,,,dana", "line 2: note: is required to reject"),
        ("ex-1234567890abcdef,,,,reject,x,,dana", "line 2: exception_id 'ex-1234567890abcdef': is not an exception"),
        (f"{CLOSED},,,,reject,x,,dana", f"line 2: exception_id '{CLOSED}': is already closed (accepted)"),
        (f"{OPEN},,,,correct,,,", "line 2: reviewer: is blank"),
        (f"{OPEN},,3x,,correct,,,dana", "line 2: source_row 'value:"),
        (f"{OPEN},,7,,correct,,,dana", "line 2: source_row '7': is not the exception's (3)"),
        (f"{OPEN},,,,correct,,,dana,extra", "line 2: record '9 fields': the header has 8"),
    ],
)
def test_each_invalid_line_is_named(line, expected):
    found = messages(line + "\n")
    assert len(found) == 1 and found[0].startswith(expected), found
    assert "3x" not in found[0]


def test_identifiers_typed_into_the_id_column_are_never_echoed():
    found = messages("P123456,,,,reject,x,,dana\n")
    assert "P123456" not in found[0] and "value:" in found[0]


def test_an_exception_decided_twice_in_one_file_is_refused():
    found = messages(f"{OPEN},,,,reject,x,,dana\n{OPEN},,,,accept,y,,dana\n")
    assert found == [f"line 3: exception_id '{OPEN}': is decided again (first on line 2)"]


def test_line_numbers_count_blank_lines_and_quoted_newlines():
    found = messages(f'\n{OPEN},,,"two\nlines",reject,x,,dana\nex-00000000000000cc,,,,nope,,,dana\n')
    assert found == ["line 5: decision 'nope': is not one of correct, accept, reject"]


def test_a_file_without_the_required_columns_or_not_utf8_is_refused():
    assert [str(p) for p in read_decisions(b"id,decision\n1,accept\n").problems] == [
        "line 1: header: columns missing: exception_id, note, reviewer"
    ]
    assert str(read_decisions("exception_id\n\xe9".encode("latin-1")).problems[0]).startswith("file: encoding")


def test_facility_corrections_must_be_json_objects():
    body = "exception_id,decision,note,record_json,reviewer\n"
    known = KNOWN.assign(source_file="facilities/f.json")
    result = judge(
        read_decisions((body + f'{OPEN},correct,,"{{oops",lee\n').encode()),
        known,
        value_checks=VALUE_CHECKS["facilities"],
    )
    assert str(result.problems[0]).startswith("line 2: record_json: is not valid JSON")
    array = judge(
        read_decisions((body + f'{OPEN},correct,,"[1]",lee\n').encode()), known, value_checks=VALUE_CHECKS["facilities"]
    )
    assert str(array.problems[0]) == "line 2: record_json: is not a JSON object"


def test_earlier_files_close_what_they_accepted_or_rejected_and_a_rerun_reopens_its_own():
    parsed = read_decisions((HEADER + f"{OPEN},,,,reject,x,,dana\n").encode())
    ledger = ledger_rows(judge(parsed, KNOWN), "_decisions/patients/1.csv", pd.Timestamp("2025-07-01"))
    again, _ = judge_with_state(parsed, KNOWN, ledger, "_decisions/patients/2.csv", "patients")
    assert "decided by an earlier decisions file" in str(again.problems[0])
    rerun, affected = judge_with_state(parsed, KNOWN, ledger, "_decisions/patients/1.csv", "patients")
    assert rerun.valid and affected == ["a.csv@1"]


def test_the_ledger_keeps_a_correction_s_raw_values_and_who_decided():
    parsed = read_decisions((HEADER + f"{OPEN},patients/a.csv,3,r,correct,typo,51,dana\n").encode())
    ledger = ledger_rows(judge(parsed, KNOWN), "_decisions/patients/1.csv", pd.Timestamp("2025-07-01"))
    row = ledger.iloc[0]
    assert (row["decision"], row["reviewer"], row["note"], row["source_row"]) == ("correct", "dana", "typo", 3)
    assert row["raw_values"] == '{"age": "51"}'


def test_with_reviewer_sets_or_adds_the_column_on_every_decided_line():
    added = with_reviewer(b"exception_id,decision,note\nex-1,accept,ok\n", "dana").decode()
    assert added == "exception_id,decision,note,reviewer\nex-1,accept,ok,dana\n"
    replaced = with_reviewer(b"exception_id,reviewer,decision\nex-1,someone,reject\n", "dana").decode()
    assert replaced == "exception_id,reviewer,decision\nex-1,dana,reject\n"
