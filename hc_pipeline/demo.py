"""`hc-pipeline demo`: generate sample files, land them, process them, print what came out and where."""

import datetime as dt

from hc_pipeline.schemas import facilities, patients
from hc_pipeline.stores.environment import hc_home
from hc_pipeline.stores.landed import DOMAINS

REPORTS = (
    "facilities_expiring_accreditations",
    "facilities_state_counts",
    "facilities_facility_metrics",
    "patients_readmissions",
    "patients_length_of_stay",
    "patients_demographics",
    "patients_diagnosis_patterns",
)
# label, the table (after `<domain>_`) and the count run on it
SUMMARY = (
    ("files", "raw_records", "count(DISTINCT source_file)"),
    ("rows landed", "raw_records", "count(*)"),
    ("rows curated", "curated_records", "count(*)"),
    ("rows quarantined", "quarantined_records", "count(*)"),
)
RULES = {"patients": patients.RULES, "facilities": facilities.RULES}


def run_demo(patients: int, facilities: int, seed: int) -> int:
    """The whole pipeline on the embedded default, from generated data to a printed summary."""
    from hc_pipeline.definitions import defs
    from hc_pipeline.generate.writer import generate
    from hc_pipeline.home_lock import exclusive_home
    from hc_pipeline.runner import instance_for, run_pending

    home = hc_home()
    samples = home / "samples"
    run_date = dt.datetime.now(dt.UTC).date()
    generate(samples, patients=patients, facilities=facilities, seed=seed, run_date=run_date, synthea_patients=200)
    landing = defs.resources["landing"]
    for domain in DOMAINS:
        for path in sorted((samples / domain).glob("*")):
            landing.put_file(f"{domain}/{path.name}", path)
    with exclusive_home(home, wait_seconds=600):
        summary = run_pending(defs, instance_for(home), run_date)
    engine = defs.resources["query_engine"]
    tables = set(engine.tables())
    print(f"\nhc_pipeline demo — run date {run_date}, HC_HOME={home}")
    for stopped in summary.stopped_by_checks:
        print(f"  stopped by a blocking check (see its quarantine): {stopped}")
    for domain in DOMAINS:
        if f"{domain}_raw_records" not in tables:
            continue
        print(f"\n[{domain}] processed {len(summary.processed.get(domain, []))} new file(s) this run")
        for label, table, count in SUMMARY:
            if f"{domain}_{table}" in tables:
                n = int(engine.query(f"SELECT {count} AS n FROM {domain}_{table}")["n"].iloc[0])
                print(f"  {label:<18}{n:>10,}")
        findings = _findings_by_rule(engine, domain, tables)
        if findings is not None:
            print("  findings by rule:")
            for rule, severity, n in findings.itertuples(index=False):
                print(f"    {rule:<28}{severity:<9}{n:>8,}")
    for report in REPORTS:
        if report in tables:
            print(f"\n[{report}] {int(engine.query(f'SELECT count(*) AS n FROM {report}')['n'].iloc[0]):,} rows")
    if "patients_readmission_rates" in tables:
        overall = engine.query(
            "SELECT stays, readmissions, readmission_rate FROM patients_readmission_rates WHERE dimension = 'overall'"
        )
        print("\n30-day readmission rate (overall):\n" + overall.to_string(index=False))
    print(
        f"\nResults:\n  lake (parquet)   {home / 'lake'}\n  quarantine       {home / 'quarantine'}\n"
        f"  insight reports  {home / 'insights'}\n"
        f"  quality reports  {home / 'insights' / 'patients' / 'index.html'}, {home / 'insights' / 'facilities' / 'index.html'}\n"
        f"  exports          {home / 'exports'}\n  Dagster runs     {home / 'dagster'} (see them with `make dev`)\n"
        "Query them, e.g.:\n"
        '  .venv/bin/hc-pipeline query "select rule, count(*) from patients_anomaly_report group by rule"'
    )
    return 1 if summary.failed else 0


def _findings_by_rule(engine, domain: str, tables: set[str]):
    """Findings per rule from the quarantine reasons and the curated warnings."""
    if not {f"{domain}_quarantined_records", f"{domain}_curated_records"} <= tables:
        return None
    rules = RULES[domain]
    counts = engine.query(
        f"""SELECT rule, count(*) AS n FROM (
              SELECT r AS rule FROM {domain}_quarantined_records CROSS JOIN UNNEST(reasons) AS t (r)
              UNION ALL
              SELECT w AS rule FROM {domain}_curated_records CROSS JOIN UNNEST(warnings) AS t (w)
            ) AS f GROUP BY rule"""
    )
    counts["severity"] = counts["rule"].map(lambda r: rules[r].severity)
    return counts.sort_values(["severity", "rule"])[["rule", "severity", "n"]]
