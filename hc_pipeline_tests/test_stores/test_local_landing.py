"""The local landing zone's core: streamed puts with the MD5 version, listing from remembered digests, dot-files."""

import errno
import hashlib
import io
import os
import time

import pytest

from hc_pipeline.stores.local_landing import LocalLanding


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_put_file_streams_the_file_and_its_version_is_the_content_md5(tmp_path):
    source = tmp_path / "big.csv"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # several chunks and a tail
    landing = LocalLanding(tmp_path / "home")
    obj = landing.put_file("patients/big.csv", source)
    assert obj.version == md5(source.read_bytes()) and obj.size == source.stat().st_size
    assert (tmp_path / "home" / "landing" / "patients" / "big.csv").read_bytes() == source.read_bytes()
    assert LocalLanding(tmp_path / "home").list_objects("patients") == [obj]


def test_listing_with_nothing_new_reads_no_file_content(tmp_path):
    landing = LocalLanding(tmp_path, settle_seconds=0)
    folder = tmp_path / "landing" / "patients"
    folder.mkdir(parents=True)
    for i in range(50):
        (folder / f"{i:03}.csv").write_bytes(b"patient_id\n" + str(i).encode() * 100)
    first = landing.list_objects("patients")
    assert landing.bytes_hashed == sum(p.stat().st_size for p in folder.iterdir())
    again = LocalLanding(tmp_path, settle_seconds=0)  # a new process: the digests come from the index under the root
    assert again.list_objects("patients") == first and again.bytes_hashed == 0
    assert {o.version for o in first} == {md5((folder / o.key.split("/")[1]).read_bytes()) for o in first}


def test_a_changed_file_is_hashed_again_and_only_it(tmp_path):
    landing = LocalLanding(tmp_path, settle_seconds=0)
    folder = tmp_path / "landing" / "patients"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_bytes(b"a,b\n1,2\n")
    (folder / "b.csv").write_bytes(b"a,b\n3,4\n")
    before = {o.key: o.version for o in landing.list_objects("patients")}
    stat = (folder / "a.csv").stat()
    (folder / "a.csv").write_bytes(b"a,b\n9,9\n")  # same size, and the mtime put back: ctime still changes
    os.utime(folder / "a.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    landing.bytes_hashed = 0
    after = {o.key: o.version for o in landing.list_objects("patients")}
    assert landing.bytes_hashed == 8
    assert after == {**before, "patients/a.csv": md5(b"a,b\n9,9\n")}


def test_a_deleted_file_leaves_the_listing_and_the_index(tmp_path):
    landing = LocalLanding(tmp_path)
    landing.put("patients/a.csv", b"x")
    landing.put("patients/b.csv", b"y")
    (tmp_path / "landing" / "patients" / "a.csv").unlink()
    assert [o.key for o in landing.list_objects("patients")] == ["patients/b.csv"]
    assert set(landing.index.load("patients")) == {"patients/b.csv"}


def test_dot_files_and_long_names_are_landed_files(tmp_path):
    landing = LocalLanding(tmp_path)
    long_name = "a" * 236 + ".csv"
    for name in (".hidden.csv", "..dots..csv", long_name, "sub/.x.json"):
        landing.put(f"patients/{name}", b"x")
    keys = [o.key for o in landing.list_objects("patients")]
    assert sorted(keys) == sorted(f"patients/{n}" for n in (".hidden.csv", "..dots..csv", long_name, "sub/.x.json"))


class BrokenReader(io.RawIOBase):
    """Yields one chunk, then fails as a disk or network error would."""

    def __init__(self):
        self.calls = 0

    def readable(self):
        return True

    def read(self, size=-1):
        self.calls += 1
        if self.calls > 1:
            raise OSError(28, "No space left on device")
        return b"x" * 1024


def test_a_failed_put_leaves_no_partial_file_and_no_landed_file(tmp_path):
    landing = LocalLanding(tmp_path)
    with pytest.raises(OSError, match="No space left"):
        landing.put_stream("patients/a.csv", BrokenReader())
    assert list((tmp_path / "tmp").iterdir()) == []
    assert landing.list_objects("patients") == []


def test_the_index_never_makes_a_listing_fail(tmp_path):
    landing = LocalLanding(tmp_path)
    landing.put("patients/a.csv", b"x")
    landing.index.path.write_bytes(b"not a sqlite file")
    # Without the index a landed file cannot be told from one being copied in: it is taken once settled.
    assert LocalLanding(tmp_path).list_objects("patients") == []
    assert [o.version for o in LocalLanding(tmp_path, settle_seconds=0).list_objects("patients")] == [md5(b"x")]


def test_a_file_copied_in_is_taken_once_unchanged_for_the_settle_time(tmp_path):
    landing = LocalLanding(tmp_path, settle_seconds=30)
    landing.put("patients/landed.csv", b"a,b\n1,2\n")  # landed by an atomic rename: taken at once
    copying = tmp_path / "landing" / "patients" / "copying.csv"
    copying.write_bytes(b"a,b\n3,")
    assert [o.key for o in landing.list_objects("patients")] == ["patients/landed.csv"]
    assert landing.bytes_hashed == 0
    copying.write_bytes(b"a,b\n3,4\n")
    settled = time.time() - 31
    os.utime(copying, (settled, settled))
    listed = {o.key: o.version for o in landing.list_objects("patients")}
    assert listed["patients/copying.csv"] == md5(b"a,b\n3,4\n")


class FillsTheDisk(io.RawIOBase):
    """A stream whose copy fails with ENOSPC after the first chunk, as when the disk fills mid-copy."""

    def __init__(self):
        self.reads = 0

    def readinto(self, buffer) -> int:
        self.reads += 1
        if self.reads > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        buffer[:4] = b"P1,4"
        return 4


def test_a_full_disk_while_landing_names_the_file_and_leaves_no_partial(tmp_path):
    landing = LocalLanding(tmp_path)
    with pytest.raises(OSError) as raised:
        landing.put_stream("patients/a.csv", FillsTheDisk())
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(tmp_path / "landing/patients/a.csv")
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".partial"]
    assert landing.list_objects("patients") == []
