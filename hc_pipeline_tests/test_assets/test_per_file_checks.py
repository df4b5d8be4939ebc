"""Check results belong to the file they judged: each evaluation carries its file's partition key."""

import dagster as dg

from hc_pipeline.partitions import partition_key_for
from hc_pipeline_tests.conftest import process
from hc_pipeline_tests.steward_files import BAD_FAILING_GROUPS, BAD_FILE, GOOD_FILE

CURATED = dg.AssetKey(["patients", "curated_records"])
RAW = dg.AssetKey(["patients", "raw_records"])
GROUPS = ("conformance", "completeness", "plausibility", "uniqueness")


def history(instance: dg.DagsterInstance, asset_key: dg.AssetKey, name: str) -> dict[str, bool]:
    """partition -> passed, for every recorded evaluation of one check."""
    records = instance.event_log_storage.get_asset_check_execution_history(dg.AssetCheckKey(asset_key, name), limit=50)
    return {r.partition: r.event.dagster_event.event_specific_data.passed for r in records}


def test_every_per_file_check_records_its_files_partition(defs, instance, land):
    bad, good = land(*BAD_FILE), land(*GOOD_FILE)
    bad_key, good_key = partition_key_for(bad.key, bad.version), partition_key_for(good.key, good.version)
    # The clean file lands last: without partitioned checks it would be every check's headline.
    process(defs, instance)

    for group in GROUPS:
        assert history(instance, CURATED, group) == {bad_key: group not in BAD_FAILING_GROUPS, good_key: True}, group
    for name in ("curated_schema", "row_conservation"):
        assert history(instance, CURATED, name) == {bad_key: True, good_key: True}
    assert history(instance, RAW, "file_readable") == {bad_key: True, good_key: True}


def test_per_file_check_specs_share_their_assets_partitions(defs):
    partitioned = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.partitions_def is not None]
    specs = [(a, spec) for a in partitioned for spec in a.check_specs]
    # file_readable, schema, conservation, the rule groups, and decisions_valid of the decisions files; both domains
    assert len(specs) == 2 * (1 + 2 + len(GROUPS) + 1)
    assert all(spec.partitions_def == asset.partitions_def for asset, spec in specs)
