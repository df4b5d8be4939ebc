"""How fast the code location reacts: sensor intervals per landing mode, and what loading it imports."""

import json
import os
import subprocess
import sys

import pydantic
import pytest
from dagster._daemon.sensor import MIN_INTERVAL_LOOP_TIME

from hc_pipeline.definitions import definitions_for
from hc_pipeline.resources.s3_events import DAEMON_LOOP_SECONDS, S3EventQueue

QUEUE = {"HC_S3_BUCKET": "lake-bucket", "HC_S3_EVENT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/hc-landing"}
LANDING = {"patients_landing_sensor", "facilities_landing_sensor", "landing_events_sensor"}
# Loaded by a report or query when it runs; a run worker processing a landed file needs none of them.
LAZY = ("duckdb", "sqlglot", "boto3")


def intervals(env: dict) -> dict[str, int]:
    return {s.name: s.minimum_interval_seconds for s in definitions_for(env).sensors}


def test_listing_mode_landing_sensors_tick_every_5_seconds_and_the_others_every_15(tmp_path):
    found = intervals({"HC_HOME": str(tmp_path)})
    assert {found["patients_landing_sensor"], found["facilities_landing_sensor"]} == {5}
    assert "landing_events_sensor" not in found
    assert found["patients_recuration_sensor"] == found["facilities_decisions_sensor"] == 15


def test_event_mode_landing_sensor_ticks_on_every_daemon_loop():
    found = intervals(QUEUE)
    assert found["landing_events_sensor"] == 1 and "patients_landing_sensor" not in found
    assert found["patients_recuration_sensor"] == 15


def test_the_event_sensor_long_polls_sqs_for_less_than_one_daemon_loop():
    queue = definitions_for(QUEUE).resources["landing_events"]  # its default long poll is accepted
    assert DAEMON_LOOP_SECONDS == MIN_INTERVAL_LOOP_TIME  # the bound the queue enforces is Dagster's loop
    for refused in (0, DAEMON_LOOP_SECONDS):
        with pytest.raises(pydantic.ValidationError, match="wait_seconds"):
            S3EventQueue(queue_url=queue.queue_url, landing=queue.landing, wait_seconds=refused)


@pytest.mark.parametrize("env", [{}, QUEUE], ids=["listing", "event"])
def test_hc_sensor_interval_seconds_sets_every_sensor(tmp_path, env):
    found = intervals({"HC_HOME": str(tmp_path), **env, "HC_SENSOR_INTERVAL_SECONDS": "7"})
    assert {found[name] for name in LANDING & found.keys()} == {7}
    assert found["patients_recuration_sensor"] == 7


@pytest.mark.parametrize("bad", ["0", "-1", "soon"])
def test_a_bad_sensor_interval_is_refused_with_the_variable_named(tmp_path, bad):
    with pytest.raises(ValueError, match="HC_SENSOR_INTERVAL_SECONDS"):
        definitions_for({"HC_HOME": str(tmp_path), "HC_SENSOR_INTERVAL_SECONDS": bad})


def test_loading_the_code_location_imports_neither_duckdb_nor_sqlglot_nor_boto3(tmp_path):
    code = (
        "import json, sys; import hc_pipeline.definitions as d; "
        f"print(json.dumps([len(d.defs.sensors), [m for m in {LAZY!r} if m in sys.modules]]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HC_")} | {"HC_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    sensors, imported = json.loads(out.stdout.strip().splitlines()[-1])
    assert sensors > 0 and imported == []
    # The same probe sees them once a query runs, so it would notice them at load time too.
    query = code.replace("print(", "d.defs.resources['query_engine'].query('select 1'); print(")
    out = subprocess.run([sys.executable, "-c", query], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert set(json.loads(out.stdout.strip().splitlines()[-1])[1]) >= {"duckdb", "sqlglot"}
