"""The asset graph stewards see: keys, groups, checks with severity, blocking and categories."""

import dagster as dg

from hc_pipeline.schemas.patients import RULE_GROUPS


def checks_by_asset(defs: dg.Definitions) -> dict[str, dict[str, dg.AssetCheckSpec]]:
    found: dict[str, dict[str, dg.AssetCheckSpec]] = {}
    for asset in defs.assets:
        for spec in getattr(asset, "check_specs", []):
            found.setdefault(spec.asset_key.to_user_string(), {})[spec.name] = spec
    return found


def test_patients_assets_are_one_group_with_domain_keys(defs):
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    patients = {k for k in specs if k.startswith("patients/")}
    assert patients == {
        "patients/raw_records",
        "patients/curated_records",
        "patients/quarantined_records",
        "patients/exceptions",
        "patients/decisions",
        "patients/anomaly_report",
        "patients/readmissions",
        "patients/readmission_rates",
        "patients/length_of_stay",
        "patients/demographics",
        "patients/diagnosis_patterns",
        "patients/quality_report",
    }
    assert {specs[k].group_name for k in patients} == {"patients"}
    assert all(specs[k].description for k in patients)


def test_curated_records_carries_one_check_per_rule_group_plus_contract_checks(defs):
    checks = checks_by_asset(defs)["patients/curated_records"]
    assert set(checks) == {"curated_schema", "row_conservation", *(g.name for g in RULE_GROUPS)}
    assert checks["curated_schema"].blocking and checks["row_conservation"].blocking
    assert not any(checks[g.name].blocking for g in RULE_GROUPS)
    assert {checks[g.name].metadata["category"] for g in RULE_GROUPS} == {
        "conformance",
        "completeness",
        "plausibility",
        "uniqueness",
    }
    assert all("team:" in c.metadata["owners"] and c.description for c in checks.values())


def test_raw_records_has_a_blocking_readability_check(defs):
    check = checks_by_asset(defs)["patients/raw_records"]["file_readable"]
    assert check.blocking and "quarantine" in check.description


def test_landing_sensor_starts_running(defs):
    sensor = defs.get_sensor_def("patients_landing_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_decisions_are_judged_whole_by_a_blocking_check_and_feed_the_curation(defs):
    check = checks_by_asset(defs)["patients/decisions"]["decisions_valid"]
    assert check.blocking and "refuses the whole file" in check.description
    graph = defs.resolve_asset_graph()
    for domain in ("patients", "facilities"):
        upstream = graph.get(dg.AssetKey([domain, "curated_records"])).parent_keys
        assert dg.AssetKey([domain, "decisions"]) in upstream
        assert defs.get_sensor_def(f"{domain}_decisions_sensor").default_status == dg.DefaultSensorStatus.RUNNING
