"""Many files in one run: each keeps its own partition, tables, checks, report and manifest, exactly as if it had
had a run of its own; a file that fails fails alone and gets a run of its own."""

import json

import dagster as dg
import numpy as np
import pyarrow.parquet as pq
import pytest

from hc_pipeline import batches
from hc_pipeline.assets import per_file
from hc_pipeline.batches import DONE, FAILED, file_tag
from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline.generate.facilities import build_facility_files
from hc_pipeline.generate.patients import build_patient_files
from hc_pipeline.partitions import partition_key_for
from hc_pipeline.sources import facilities_json, patients_csv
from hc_pipeline_tests.conftest import RUN_DATE, process

PER_FILE_TABLES = {
    "patients": ["raw_records", "curated_records", "quarantined_records", "exceptions", "anomaly_report"],
    "facilities": ["raw_records", "curated_records", "quarantined_records", "exceptions"],
}
UNREADABLE = b"name,comment\nx,y\n"  # no admission columns: quarantined whole by the file_readable check


def sample_files() -> dict[str, bytes]:
    """Four generated admissions CSVs (with defects), one unreadable CSV, three facilities files."""
    rng = np.random.default_rng(11)
    files = {
        f"patients/{p.name}": p.frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
        for p in build_patient_files(rng, 800, 4, 0.08, RUN_DATE)
    }
    files["patients/zz_unreadable.csv"] = UNREADABLE
    for f in build_facility_files(rng, 90, 3, 0.08, RUN_DATE):
        files[f"facilities/{f.name}"] = f.text.encode("utf-8")
    return files


def land_all(resources: dict, files: dict[str, bytes]) -> dict:
    return {key: resources["landing"].put(key, data) for key, data in files.items()}


def processed_home(tmp_path, name: str, files: dict[str, bytes]):
    """A fresh HC_HOME with `files` landed and processed; returns its root, objects, instance and summary."""
    root = tmp_path / name
    resources = build_resources({"HC_HOME": str(root)})
    landed = land_all(resources, files)
    with dg.instance_for_test() as instance:
        summary = process(make_definitions(resources), instance)
        yield root, landed, instance, summary


def table(root, domain: str, asset: str, partition: str):
    found = pq.read_table(root / "lake" / domain / asset / f"{partition}.parquet")
    return found.drop_columns([c for c in ("landed_at",) if c in found.column_names])  # differs between homes


def checks_by_partition(instance: dg.DagsterInstance) -> dict[tuple[str, str], tuple[bool, dict]]:
    found = {}
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            key = (evaluation.partition, f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
            assert key not in found, f"{key} evaluated twice"
            found[key] = (evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()})
    return found


def test_each_check_result_targets_its_files_latest_materialization_as_in_an_asset_step(both):
    # The UI counts a partition's check result (the checks tab, its Failed headline) only while it does.
    for _, _, instance, _ in both[1:]:
        targeted = 0
        for run in instance.get_runs():
            for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
                evaluation = entry.dagster_event.event_specific_data
                latest = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=evaluation.asset_key, asset_partitions=[evaluation.partition]), 1
                ).records[0]
                assert evaluation.target_materialization_data.storage_id == latest.storage_id
                targeted += 1
        assert targeted >= 5 * 3 + 3 * 3  # every file's checks, in either mode


def materialized(instance: dg.DagsterInstance, domain: str, asset: str) -> list[str]:
    """The partition of every materialization of an asset, one entry per materialization."""
    records = instance.fetch_materializations(dg.AssetKey([domain, asset]), limit=1000).records
    return sorted(r.asset_materialization.partition for r in records)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same files processed in batches (the default) and, in another home, one run per file, each file read and
    curated in many small batches (2 KB blocks of a CSV, 512 bytes of NDJSON, 8 records of other JSON) instead of one."""
    tmp_path = tmp_path_factory.mktemp("batches")
    files = sample_files()
    batched = processed_home(tmp_path, "batched", files)
    one_by_one = processed_home(tmp_path, "one_by_one", files)
    a = next(batched)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batches, "MAX_BATCH_FILES", 1)
        patch.setattr(patients_csv, "BLOCK_BYTES", 2048)
        patch.setattr(facilities_json, "BLOCK_BYTES", 512)  # an NDJSON facilities file is streamed too
        patch.setattr(per_file, "BATCH_ROWS", 8)  # and the others, read whole, are written and curated in batches
        b = next(one_by_one)
    yield files, a, b
    for home in (one_by_one, batched):  # last opened, first closed: each instance restores Dagster's context
        next(home, None)


def test_the_batched_home_ran_one_batch_per_domain_and_the_other_one_run_per_file(both):
    files, (_, _, batched, _), (_, _, alone, _) = both
    batch_runs = [r for r in batched.get_runs() if r.job_name.endswith("_batch_job")]
    assert sorted(r.job_name for r in batch_runs) == ["facilities_batch_job", "patients_batch_job"]
    assert sorted(int(r.tags["hc/batch_files"]) for r in batch_runs) == [3, 5]
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in batch_runs)
    assert not [r for r in batched.get_runs() if "hc/version_run_key" in r.tags]
    assert len([r for r in alone.get_runs() if "hc/version_run_key" in r.tags]) == len(files)
    assert not [r for r in alone.get_runs() if r.job_name.endswith("_batch_job")]


def test_every_file_gives_the_same_tables_in_a_batch_as_in_a_run_of_its_own(both):
    _, (root_a, landed, _, _), (root_b, _, _, _) = both
    compared = 0
    for key, obj in landed.items():
        domain = key.split("/")[0]
        partition = partition_key_for(obj.key, obj.version)
        for asset in PER_FILE_TABLES[domain]:
            path = root_a / "lake" / domain / asset / f"{partition}.parquet"
            assert path.exists() == (root_b / path.relative_to(root_a)).exists(), path
            if path.exists():
                a, b = table(root_a, domain, asset, partition), table(root_b, domain, asset, partition)
                assert a.equals(b), f"{asset} of {key} differs"
                compared += 1
        assert (root_a / "manifests" / domain / f"{partition}.json").exists()
    assert compared >= 4 * 5 + 3 * 4  # every readable file's tables, the unreadable one's raw records


def test_the_one_by_one_home_read_and_curated_each_file_in_many_row_groups(both):
    _, (root_a, landed, _, _), (root_b, _, _, _) = both
    for obj in landed.values():
        if obj.key != "patients/zz_unreadable.csv":
            domain, partition = obj.key.split("/")[0], partition_key_for(obj.key, obj.version)
            groups = [
                pq.ParquetFile(root / "lake" / domain / asset / f"{partition}.parquet").num_row_groups
                for root in (root_a, root_b)
                for asset in ("raw_records", "curated_records")
            ]
            assert groups[:2] == [1, 1] and min(groups[2:]) > 3, (obj.key, groups)


def test_every_file_gives_the_same_check_results_and_insight_report(both):
    _, (root_a, landed, batched, _), (root_b, _, alone, _) = both
    a, b = checks_by_partition(batched), checks_by_partition(alone)
    assert a == b
    assert {partition for partition, _ in a} == {partition_key_for(o.key, o.version) for o in landed.values()}
    for obj in landed.values():
        partition = partition_key_for(obj.key, obj.version)
        insight = root_a / "insights" / "patients" / f"{partition}_insight_report.json"
        if obj.key.startswith("patients/") and obj.key != "patients/zz_unreadable.csv":
            drop = lambda path: {k: v for k, v in json.loads(path.read_text()).items() if k != "timestamp"}  # noqa: E731
            assert drop(insight) == drop(root_b / insight.relative_to(root_a))


def test_each_file_is_materialized_once_per_asset_and_the_unreadable_one_stops_at_its_check(both):
    _, (_, landed, batched, summary), _ = both
    partitions = {key: partition_key_for(o.key, o.version) for key, o in landed.items()}
    patients = sorted(p for key, p in partitions.items() if key.startswith("patients/"))
    readable = sorted(p for key, p in partitions.items() if key.startswith("patients/") and "unreadable" not in key)
    assert materialized(batched, "patients", "raw_records") == patients
    assert materialized(batched, "patients", "curated_records") == readable
    assert materialized(batched, "patients", "anomaly_report") == readable
    bad = partitions["patients/zz_unreadable.csv"]
    assert summary.stopped_by_checks == [f"patients/zz_unreadable.csv ({bad})"]
    assert sorted(summary.processed["patients"]) == patients and not summary.failed
    batch = next(r for r in batched.get_runs() if r.job_name == "patients_batch_job")
    assert {batch.tags[file_tag(landed[k])] for k in landed if k.startswith("patients/")} == {DONE}


def test_a_file_that_fails_in_its_batch_fails_alone_then_runs_by_itself(tmp_path):
    files = {k: v for k, v in sample_files().items() if k.startswith("patients/") and "unreadable" not in k}
    root = tmp_path / "home"
    resources = build_resources({"HC_HOME": str(root)})
    landed = land_all(resources, files)
    broken = landed[sorted(landed)[1]]
    partition = partition_key_for(broken.key, broken.version)
    blocker = root / "lake" / "patients" / "curated_records" / f"{partition}.parquet"
    blocker.mkdir(parents=True)  # a folder where its curated parquet goes: that write fails
    with dg.instance_for_test() as instance:
        first = process(make_definitions(resources), instance)
        batch = next(r for r in instance.get_runs() if r.job_name == "patients_batch_job")
        assert batch.status == dg.DagsterRunStatus.FAILURE
        assert broken.key in batch.tags["hc/failure_reason"]
        states = {key: batch.tags[file_tag(obj)] for key, obj in landed.items()}
        assert states == {key: FAILED if obj is broken else DONE for key, obj in landed.items()}
        # The same `run` gave it a run of its own, which failed the same way and counts as attempt 1.
        assert len(first.failed) == 1 and first.failed[0].startswith(f"{broken.key} ({partition}) (attempt 1)")
        assert sorted(first.processed["patients"]) == sorted(
            partition_key_for(o.key, o.version) for o in landed.values()
        )
        blocker.rmdir()
        second = process(make_definitions(resources), instance)
        assert second.processed["patients"] == [partition] and not second.failed
        others = sorted(partition_key_for(o.key, o.version) for o in landed.values())
        assert materialized(instance, "patients", "curated_records") == others  # each exactly once
