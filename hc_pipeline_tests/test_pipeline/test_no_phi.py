"""No raw patient identifier from the input reaches Dagster metadata, check results, logs or insight reports."""

import csv
import io
import re
import zipfile

import dagster as dg
import pytest


def patient_ids(samples) -> set[str]:
    ids = set()
    for path in (samples / "patients").glob("*.csv"):
        rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8")))
        header = [h.strip().lower().replace(" ", "_") for h in next(rows)]
        column = header.index("patient_id")
        ids |= {row[column].strip() for row in rows if len(row) > column and row[column].strip()}
    return ids


def synthea_patient_ids(samples) -> set[str]:
    with zipfile.ZipFile(samples / "patients" / "synthea_export.zip") as archive:
        name = next(n for n in archive.namelist() if n.endswith("patients.csv"))
        rows = csv.DictReader(io.StringIO(archive.read(name).decode("utf-8")))
        return {row["Id"] for row in rows}


def tokens_in_files(folder) -> set[str]:
    """Every identifier-shaped token in every file under `folder`, the instance's sqlite files included."""
    tokens = set()
    for path in folder.rglob("*"):
        if path.is_file():
            tokens |= set(re.findall(r"[A-Za-z0-9-]+", path.read_bytes().decode("latin-1")))
    return tokens


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


def test_no_patient_identifier_anywhere_in_the_instance_folder(corpus):
    ids = patient_ids(corpus["samples"]) | synthea_patient_ids(corpus["samples"])
    assert len(ids) > 5_000 and any(len(i) == 36 for i in ids)  # CSV ids and Synthea's UUIDs
    tokens = tokens_in_files(corpus["dagster_home"])
    assert "readmissions" in tokens  # the analytics runs are recorded there
    assert sorted(ids & tokens) == []


def test_report_exports_carry_no_patient_identifier(corpus):
    ids = patient_ids(corpus["samples"]) | synthea_patient_ids(corpus["samples"])
    assert len(ids) > 5_000 and any(len(i) == 36 for i in ids)  # CSV ids and Synthea's UUIDs
    exports = sorted((corpus["home"] / "exports").rglob("*.*"))
    assert {p.parent.name for p in exports} >= {"readmission_rates", "demographics", "diagnosis_patterns"}
    assert len(exports) == 7 * 4  # seven aggregate reports, each stamped and latest, CSV and JSON
    text = "\n".join(p.read_text(encoding="utf-8") for p in exports)
    assert not [i for i in ids if i in text]


def test_no_patient_identifier_in_anything_recorded_about_decisions(tmp_path):
    """The stewards' loop on generated data: corrections that carry new identifiers, accepts, rejects and a
    refused file whose id column holds patient ids; nothing of them reaches Dagster or the run summary."""
    import pandas as pd

    from hc_pipeline.definitions import make_definitions
    from hc_pipeline.deployment import build_resources
    from hc_pipeline.generate.writer import generate
    from hc_pipeline.review.commands import apply_decisions, export_open_exceptions
    from hc_pipeline_tests.conftest import RUN_DATE, process

    samples, home = tmp_path / "samples", tmp_path / "home"
    generate(samples, patients=1_500, facilities=20, defect_rate=0.1, seed=5, run_date=RUN_DATE)
    resources = build_resources({"HC_HOME": str(home)})
    for path in sorted((samples / "patients").glob("*.csv")):
        resources["landing"].put(f"patients/{path.name}", path.read_bytes())
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance, pytest.MonkeyPatch.context() as env:
        env.setenv("HC_HOME", str(home))
        defs = make_definitions(resources)
        process(defs, instance)
        export_open_exceptions("patients", home / "open.csv", None)
        rows = pd.read_csv(home / "open.csv", dtype=str, keep_default_na=False)
        assert len(rows) > 20
        words = ["correct", "accept", "reject"]
        rows["decision"] = [words[i % 3] for i in range(len(rows))]
        rows["note"] = [f"checked against chart {i}" for i in range(len(rows))]
        new_ids = [f"NEWID{i:05d}" for i in range(len(rows))]
        rows["patient_id"] = rows["patient_id"].where(rows["decision"] != "correct", new_ids)
        rows.to_csv(home / "decided.csv", index=False)
        assert apply_decisions("patients", home / "decided.csv", "dana") == 0
        refused = rows.head(3).assign(exception_id=rows["patient_id"].head(3), reviewer="dana")
        resources["landing"].put("_decisions/patients/refused.csv", refused.to_csv(index=False).encode())
        summary = process(defs, instance)
        outcome = summary.decisions["patients"]
        assert len(outcome.applied) == 1 and list(outcome.refused) == ["_decisions/patients/refused.csv"]
        recorded = everything_dagster_recorded(instance) + "\n" + repr(summary)
        assert "decisions_valid" in recorded and "exceptions/corrected" in recorded
        ids = patient_ids(samples) | set(new_ids)
        assert sorted(i for i in ids if i in recorded) == []
        assert sorted(ids & tokens_in_files(dagster_home)) == []  # the instance's own files, sqlite included
