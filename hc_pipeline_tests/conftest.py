"""Shared fixtures: a temporary HC_HOME with its resources, definitions and Dagster instance."""

import datetime as dt
import gc
import os
import shutil
import tempfile
from pathlib import Path

import dagster as dg
import pytest

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources

RUN_DATE = dt.date(2025, 6, 30)
TMPFS = Path("/dev/shm")
_TEMP_ROOT = pytest.StashKey[tuple[Path, str | None]]()


@pytest.hookimpl(tryfirst=True)  # before pytest's own configure reads --basetemp
def pytest_configure(config: pytest.Config) -> None:
    """Temporary files on tmpfs when there is one: each commit of a test's SQLite Dagster instance waited for the disk.

    Both pytest's tmp_path (--basetemp) and tempfile (TMPDIR, which subprocesses inherit) go under one folder,
    removed at the end. A --basetemp given on the command line (or by an xdist controller) is left alone.
    """
    if config.option.basetemp is not None or not (TMPFS.is_dir() and os.access(TMPFS, os.W_OK | os.X_OK)):
        return
    root = Path(tempfile.mkdtemp(prefix="hc-tests-", dir=TMPFS))
    (root / "tmp").mkdir()
    config.option.basetemp = str(root / "pytest")
    config.stash[_TEMP_ROOT] = (root, os.environ.get("TMPDIR"))
    os.environ["TMPDIR"] = str(root / "tmp")
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again


def pytest_unconfigure(config: pytest.Config) -> None:
    if (saved := config.stash.get(_TEMP_ROOT, None)) is None:
        return
    root, previous = saved
    if previous is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = previous
    tempfile.tempdir = None
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def _nothing_frozen():
    """After each test, what `hc-pipeline run` called in this process (or the code location's import) froze is
    collectable again: DuckDB objects frozen with it outlived the interpreter, and nanobind printed them as leaked."""
    yield
    gc.unfreeze()


# Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`) a group of tests runs whole on one worker, so each
# module's module-scoped fixtures are built once, not once per worker. Groups are chosen here by path: pytest 9.2
# ignores the nodeid suffix xdist's `xdist_group` marks rely on (pytest-xdist issue #1386), and we want the same
# groups anyway: a module each, test_pipeline's modules together (one package-scoped corpus), and the e2e modules
# together (each starts a daemon and a webserver, with Chromium or PostgreSQL: they take turns, in file order).
_PACKAGE_GROUPS = ("hc_pipeline_tests/test_e2e/", "hc_pipeline_tests/test_pipeline/")
# The longest groups start first, so neither worker is left with one of them at the end.
_LONGEST_FIRST = (
    "hc_pipeline_tests/test_e2e/",
    "hc_pipeline_tests/test_aws/test_s3_pipeline.py",
    "hc_pipeline_tests/test_aws/test_s3_outage.py",
    "hc_pipeline_tests/test_exactly_once/test_killed_run.py",
)


def xdist_group_of(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    return next((package for package in _PACKAGE_GROUPS if module.startswith(package)), module)


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # plain pytest: nothing to schedule
    LoadScopeScheduling = None

if LoadScopeScheduling is not None:

    class _GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group_of(nodeid)

        def _assign_work_unit(self, node) -> None:
            for group in reversed(_LONGEST_FIRST):
                if group in self.workqueue:
                    self.workqueue.move_to_end(group, last=False)
            super()._assign_work_unit(node)

    def pytest_xdist_make_scheduler(config: pytest.Config, log):
        if config.getvalue("dist") == "loadgroup":
            return _GroupScheduling(config, log)
        return None


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    """An empty HC_HOME for one test."""
    root = tmp_path / "hc_home"
    root.mkdir()
    monkeypatch.setenv("HC_HOME", str(root))
    return root


@pytest.fixture
def resources(home: Path) -> dict:
    return build_resources({"HC_HOME": str(home)})


@pytest.fixture
def defs(resources: dict) -> dg.Definitions:
    return make_definitions(resources)


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def land(resources):
    """Put bytes into the landing zone: land("patients/a.csv", b"...") -> LandedObject."""
    return resources["landing"].put


def process(defs: dg.Definitions, instance: dg.DagsterInstance, run_date: dt.date = RUN_DATE, horizon_days=None):
    """Run every pending landed file through the pipeline, as `hc-pipeline run` does."""
    from hc_pipeline.runner import run_pending

    return run_pending(defs, instance, run_date, horizon_days)


def check_evaluations(instance: dg.DagsterInstance) -> list:
    """Every asset check evaluation recorded in the instance, oldest first."""
    evaluations = []
    for run in reversed(instance.get_runs()):
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluations.append(entry.dagster_event.event_specific_data)
    return evaluations
