"""Partition keys: safe for any object key, unique per object version."""

import dagster as dg
import pytest

from hc_pipeline.partitions import files_partitions, partition_key_for, safe_name

HOSTILE_KEYS = [
    "patients/adm [v2], émission.csv",
    "patients/../../etc/passwd",
    'patients/a "quoted" name.csv',
    "patients/a b.csv",
    "patients/a,b.csv",
    "patients/sub/dir/file.csv",
    "patients/....csv",
    "patients/日本語.csv",
]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_partition_key_uses_only_safe_characters(key):
    partition = partition_key_for(key, "etag1")
    name, version = partition.rsplit("@", 1)
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    assert ".." not in partition and "/" not in partition
    assert len(version) == 8


def test_plain_names_stay_readable_without_a_hash():
    assert safe_name("patients/admissions_2024-01.csv") == "admissions_2024-01.csv"


def test_keys_that_sanitise_alike_stay_distinct():
    keys = {partition_key_for(k, "e") for k in ("patients/a b.csv", "patients/a,b.csv", "patients/a_b.csv")}
    assert len(keys) == 3


def test_every_hostile_key_gives_a_distinct_partition():
    assert len({partition_key_for(k, "e") for k in HOSTILE_KEYS}) == len(HOSTILE_KEYS)


def test_new_version_of_same_object_is_a_new_partition():
    assert partition_key_for("patients/a.csv", "etag1") != partition_key_for("patients/a.csv", "etag2")
    assert partition_key_for("patients/a.csv", "etag1") == partition_key_for("patients/a.csv", "etag1")


def test_dagster_accepts_every_hostile_partition_key():
    with dg.instance_for_test() as instance:
        keys = [partition_key_for(k, "e") for k in HOSTILE_KEYS]
        instance.add_dynamic_partitions(files_partitions["patients"].name, keys)
        assert set(instance.get_dynamic_partitions(files_partitions["patients"].name)) == set(keys)
