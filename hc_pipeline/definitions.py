"""The hc_pipeline code location: assets, checks, jobs and sensors, on resources chosen by environment."""

import dagster as dg

from hc_pipeline.assets import patients
from hc_pipeline.deployment import build_resources
from hc_pipeline.jobs import file_job
from hc_pipeline.sensors import landing_sensor


def make_definitions(resources: dict) -> dg.Definitions:
    """Everything in the code location, on the given resources."""
    patients_job = file_job("patients", patients.assets)
    return dg.Definitions(
        assets=[*patients.assets],
        jobs=[patients_job],
        sensors=[landing_sensor("patients", patients_job)],
        resources=resources,
    )


defs = make_definitions(build_resources())
