"""On generated admissions with every rule injected, the anomaly report finds exactly the injected defects."""

import json

import pytest

from hc_pipeline.schemas.patients import RULES

# The bad-input corpus covers the two rules the generator does not inject (test_assets).
INJECTED = set(RULES) - {"malformed_row", "unknown_patient"}


@pytest.fixture(scope="module")
def found_and_truth(corpus):
    report = corpus["resources"]["query_engine"].query(
        "SELECT source_file, source_row, rule FROM patients_anomaly_report"
    )
    found = {(f.split("/", 1)[1], int(r), rule) for f, r, rule in report.itertuples(index=False)}
    truth = {(t["file"], int(t["row"]), t["rule"]) for t in corpus["truth"] if t["domain"] == "patients"}
    return found, truth


def test_generated_corpus_is_large_and_injects_every_rule(corpus, found_and_truth):
    _, truth = found_and_truth
    assert corpus["generated"]["patients_rows"] >= 10_000
    assert {rule for _, _, rule in truth} == INJECTED


@pytest.mark.parametrize("rule", sorted(INJECTED))
def test_precision_and_recall_are_one_per_rule(found_and_truth, rule):
    found, truth = found_and_truth
    found_rule = {f for f in found if f[2] == rule}
    truth_rule = {t for t in truth if t[2] == rule}
    assert truth_rule, f"no {rule} injected"
    false_positives, missed = found_rule - truth_rule, truth_rule - found_rule
    assert not false_positives and not missed, (sorted(false_positives)[:5], sorted(missed)[:5])


def test_conservation_holds_on_every_generated_file(corpus):
    counts = corpus["resources"]["query_engine"].query(
        """SELECT r.source_file, r.n AS raw, coalesce(c.n, 0) AS curated, coalesce(q.n, 0) AS quarantined
           FROM (SELECT source_file, count(*) n FROM patients_raw_records GROUP BY 1) r
           LEFT JOIN (SELECT source_file, count(*) n FROM patients_curated_records GROUP BY 1) c USING (source_file)
           LEFT JOIN (SELECT source_file, count(*) n FROM patients_quarantined_records GROUP BY 1) q USING (source_file)"""
    )
    assert len(counts) == len(corpus["generated"]["patients_files"])
    assert (counts["raw"] == counts["curated"] + counts["quarantined"]).all()
    synthea = json.loads((corpus["samples"] / "synthea_truth.json").read_text())
    assert counts["raw"].sum() == corpus["generated"]["patients_rows"] + synthea["inpatient_encounters"]


def test_source_file_is_the_key_exactly_as_landed(corpus):
    files = corpus["resources"]["query_engine"].query("SELECT DISTINCT source_file FROM patients_curated_records")
    assert "patients/adm [v2], émission.csv" in set(files["source_file"])
