"""No raw patient identifier from the input reaches Dagster metadata, check results, logs or insight reports."""

import csv
import io

import dagster as dg


def patient_ids(samples) -> set[str]:
    ids = set()
    for path in (samples / "patients").glob("*.csv"):
        rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8")))
        header = [h.strip().lower().replace(" ", "_") for h in next(rows)]
        column = header.index("patient_id")
        ids |= {row[column].strip() for row in rows if len(row) > column and row[column].strip()}
    return ids


def everything_dagster_recorded(instance: dg.DagsterInstance) -> str:
    texts = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id):
            texts.append(entry.user_message or "")
            event = entry.dagster_event
            if event is not None:
                texts.append(repr(event.event_specific_data))
    return "\n".join(texts)


def test_no_patient_identifier_in_metadata_checks_or_logs(corpus):
    ids = patient_ids(corpus["samples"])
    assert len(ids) > 5_000
    recorded = everything_dagster_recorded(corpus["instance"])
    assert "failing_rows" in recorded and "id:" in recorded  # the masked samples are there
    leaked = sorted(i for i in ids if i in recorded)
    assert leaked == []


def test_insight_reports_carry_no_patient_identifier(corpus):
    ids = patient_ids(corpus["samples"])
    reports = list((corpus["home"] / "insights" / "patients").glob("*_insight_report.json"))
    assert len(reports) == len(corpus["generated"]["patients_files"])
    text = "\n".join(p.read_text() for p in reports)
    assert '"sample_anomalies"' in text and not [i for i in ids if i in text]
