"""On generated facility files (both variants, four containers), quarantine and warnings match the ground truth."""

import pytest

from hc_pipeline.schemas.facilities import RULES


@pytest.fixture(scope="module")
def found_and_truth(corpus):
    engine = corpus["resources"]["query_engine"]
    found = engine.query(
        """SELECT source_file, source_row, r AS rule FROM facilities_quarantined_records CROSS JOIN UNNEST(reasons) AS t (r)
           UNION ALL
           SELECT source_file, source_row, w AS rule FROM facilities_curated_records CROSS JOIN UNNEST(warnings) AS t (w)"""
    )
    found = {(f.split("/", 1)[1], int(r), rule) for f, r, rule in found.itertuples(index=False)}
    truth = {(t["file"], int(t["row"]), t["rule"]) for t in corpus["truth"] if t["domain"] == "facilities"}
    return found, truth


@pytest.mark.parametrize("rule", sorted(RULES))
def test_precision_and_recall_are_one_per_rule(found_and_truth, rule):
    found, truth = found_and_truth
    found_rule = {f for f in found if f[2] == rule}
    truth_rule = {t for t in truth if t[2] == rule}
    assert truth_rule, f"no {rule} injected"
    assert found_rule == truth_rule, (sorted(found_rule - truth_rule)[:5], sorted(truth_rule - found_rule)[:5])


def test_conservation_holds_on_every_facility_file(corpus):
    counts = corpus["resources"]["query_engine"].query(
        """SELECT r.source_file, r.n AS raw, coalesce(c.n, 0) AS curated, coalesce(q.n, 0) AS quarantined
           FROM (SELECT source_file, count(*) n FROM facilities_raw_records GROUP BY 1) r
           LEFT JOIN (SELECT source_file, count(*) n FROM facilities_curated_records GROUP BY 1) c USING (source_file)
           LEFT JOIN (SELECT source_file, count(*) n FROM facilities_quarantined_records GROUP BY 1) q USING (source_file)"""
    )
    assert len(counts) == 4
    assert (counts["raw"] == counts["curated"] + counts["quarantined"]).all()


def test_reports_are_written_and_each_facility_appears_once(corpus):
    engine = corpus["resources"]["query_engine"]
    metrics = engine.query("SELECT * FROM facilities_facility_metrics")
    latest = engine.query("SELECT count(DISTINCT facility_id) AS n FROM facilities_curated_records")
    assert len(metrics) == int(latest["n"].iloc[0]) and metrics["facility_id"].is_unique
    assert set(engine.query("SELECT DISTINCT tier FROM facilities_expiring_accreditations")["tier"]) >= {
        "critical",
        "high",
        "medium",
        "upcoming",
        "expired",
    }
