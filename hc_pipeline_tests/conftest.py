"""Shared fixtures: a temporary HC_HOME with its resources, definitions and Dagster instance."""

import datetime as dt
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


# Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`), a group runs whole on one worker: each module's
# module-scoped fixtures are then built once, not once per worker. test_pipeline shares one package-scoped corpus;
# the e2e modules each start a daemon, a webserver (and Chromium or PostgreSQL), so they take turns on one worker.
_PACKAGE_GROUPS = ("test_pipeline",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        package = module.split("/")[1] if module.count("/") > 1 else None
        if item.get_closest_marker("e2e"):
            group = "e2e"
        elif package in _PACKAGE_GROUPS:
            group = package
        else:
            group = module
        item.add_marker(pytest.mark.xdist_group(group))


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
