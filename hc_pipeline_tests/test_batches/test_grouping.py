"""New files are cut into batches by count and bytes, in landing order; a lone or too large file runs by itself."""

from hc_pipeline.batches import DONE, FileBatch, batch_objects, file_tag, group_batches
from hc_pipeline.stores.landed import LandedObject


def objs(*sizes: int) -> list[LandedObject]:
    return [LandedObject(f"patients/f{i}.csv", f"v{i}", 1000.0 + i, size) for i, size in enumerate(sizes)]


def test_batches_hold_at_most_max_files_in_landing_order():
    files = objs(*[10] * 7)
    batches, alone = group_batches("patients", files, max_files=3, max_bytes=1000)
    assert [[o.key for o in b] for b in batches] == [[o.key for o in files[i : i + 3]] for i in (0, 3)]
    assert alone == [files[6]]  # the last one has no company: a run of its own


def test_a_batch_closes_before_max_bytes_and_a_larger_file_runs_alone():
    files = objs(40, 40, 40, 500, 10)
    batches, alone = group_batches("patients", files, max_files=10, max_bytes=100)
    assert [len(b) for b in batches] == [2, 2]
    assert [o.key for o in batches[0]] == [files[0].key, files[1].key]
    assert [o.key for o in batches[1]] == [files[2].key, files[4].key]
    assert alone == [files[3]]


def test_one_new_file_is_no_batch():
    batches, alone = group_batches("patients", objs(10))
    assert batches == [] and len(alone) == 1


def test_a_batch_run_names_each_file_pending_and_gives_its_objects_back():
    files = objs(10, 20)
    batch = FileBatch("patients", tuple(files))
    request = batch.run_request("patients_batch_job")
    assert request.tags["hc/batch_files"] == "2"
    assert {request.tags[file_tag(o)] for o in files} == {"pending"}
    assert len({file_tag(o) for o in files}) == 2 and DONE not in request.tags.values()

    class Run:  # what batch_objects reads of a DagsterRun
        tags = request.tags
        run_config = request.run_config

    assert batch_objects(Run()) == files
    assert request.run_key == FileBatch("patients", tuple(files)).run_key != FileBatch("patients", (files[0],)).run_key
