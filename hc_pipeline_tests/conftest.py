"""Shared fixtures: a temporary HC_HOME with its resources, definitions and Dagster instance."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources

RUN_DATE = dt.date(2025, 6, 30)


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
