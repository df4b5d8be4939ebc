"""The asset graph as a snapshot: keys, deps, groups, owners, partitions, checks and rule severities.

An intended change to the graph updates the snapshot in the same commit:
`HC_UPDATE_SNAPSHOTS=1 .venv/bin/pytest -q hc_pipeline_tests/test_asset_graph.py`, then review the diff.
"""

import json
import os
from pathlib import Path

import dagster as dg

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline.schemas import facilities, patients

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
RULE_GROUPS = {"patients": patients.RULE_GROUPS, "facilities": facilities.RULE_GROUPS}


def _check(spec: dg.AssetCheckSpec) -> dict:
    check = {
        "blocking": spec.blocking,
        "category": spec.metadata.get("category"),
        "owners": spec.metadata.get("owners"),
    }
    domain = spec.asset_key.path[0]
    groups = {group.name: group for group in RULE_GROUPS.get(domain, ())}
    if spec.asset_key.path[-1] == "curated_records" and spec.name in groups:
        check["rules"] = {rule.id: rule.severity for rule in groups[spec.name].rules}
    return check


def asset_graph(defs: dg.Definitions) -> dict:
    """Every asset's group, deps, owners, partitions and checks, keyed and sorted so diffs read well."""
    assets, checks = {}, {}
    for definition in defs.assets:
        for spec in definition.specs:
            assets[spec.key.to_user_string()] = {
                "group": spec.group_name,
                "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
                "owners": sorted(spec.owners),
                "partitions": spec.partitions_def.name
                if isinstance(spec.partitions_def, dg.DynamicPartitionsDefinition)
                else None,
            }
        for check_spec in definition.check_specs:
            checks[f"{check_spec.asset_key.to_user_string()}:{check_spec.name}"] = _check(check_spec)
    for definition in defs.asset_checks:
        for check_spec in definition.check_specs:
            checks[f"{check_spec.asset_key.to_user_string()}:{check_spec.name}"] = _check(check_spec)
    return {"assets": dict(sorted(assets.items())), "checks": dict(sorted(checks.items()))}


def test_asset_graph_matches_its_snapshot(tmp_path):
    graph = asset_graph(make_definitions(build_resources({"HC_HOME": str(tmp_path)})))
    text = json.dumps(graph, indent=2, sort_keys=False) + "\n"
    if os.environ.get("HC_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), f"no snapshot yet: run with HC_UPDATE_SNAPSHOTS=1 to write {SNAPSHOT}"
    assert json.loads(SNAPSHOT.read_text()) == graph, (
        "the asset graph changed; if intended, run with HC_UPDATE_SNAPSHOTS=1 and commit the new snapshot"
    )
