"""LakeStorage writes are whole or absent: a failed local write leaves no `.partial` behind; long names are hashed."""

import io

import pytest

from hc_pipeline.resources.storage import LakeStorage


def test_a_failed_write_leaves_no_partial_file(tmp_path):
    storage = LakeStorage(root=str(tmp_path))
    target = storage.path("lake", "patients", "raw_records", "a.parquet")
    (tmp_path / "lake" / "patients" / "raw_records" / "a.parquet").mkdir(parents=True)
    (tmp_path / "lake" / "patients" / "raw_records" / "a.parquet" / "blocker").write_text("x")
    with pytest.raises(OSError):
        storage.write_bytes(target, b"data")  # the rename onto a non-empty folder fails
    assert [p.name for p in (tmp_path / "lake" / "patients" / "raw_records").iterdir()] == ["a.parquet"]


def test_quarantine_of_a_file_with_a_240_character_name(tmp_path):
    storage = LakeStorage(root=str(tmp_path))
    name = "x" * 236 + ".csv"
    copy = storage.quarantine_file("patients", "part@1", name, io.BytesIO(b"\x00\xff"), {"file": f"patients/{name}"})
    assert copy.read_bytes() == b"\x00\xff" and len(copy.name) <= 200 and copy.name.endswith(".csv")
    assert (tmp_path / "quarantine" / "patients" / "part@1" / f"{copy.name}.reason.json").exists()


def test_the_next_write_of_a_file_removes_the_partial_a_killed_writer_left_and_no_other(tmp_path):
    storage = LakeStorage(root=str(tmp_path))
    folder = tmp_path / "lake" / "patients" / "raw_records"
    folder.mkdir(parents=True)
    left = folder / ".a[1].parquet.0123abcd.partial"  # a glob metacharacter in the name must not widen the match
    other = folder / ".b.parquet.4567ef.partial"
    left.write_bytes(b"half")
    other.write_bytes(b"half")
    storage.write_bytes(storage.path("lake", "patients", "raw_records", "a[1].parquet"), b"data")
    assert sorted(p.name for p in folder.iterdir()) == [other.name, "a[1].parquet"]
    assert (folder / "a[1].parquet").read_bytes() == b"data"
