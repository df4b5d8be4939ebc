"""The hc_pipeline code location: assets, checks, jobs and sensors, on resources chosen by environment."""

import dagster as dg

from hc_pipeline.assets import facilities, patients
from hc_pipeline.deployment import build_resources
from hc_pipeline.jobs import file_job
from hc_pipeline.sensors import landing_sensor

PER_FILE = {"patients": patients.assets, "facilities": facilities.assets[:2]}


def make_definitions(resources: dict) -> dg.Definitions:
    """Everything in the code location, on the given resources."""
    jobs = {domain: file_job(domain, assets) for domain, assets in PER_FILE.items()}
    return dg.Definitions(
        assets=[*patients.assets, *facilities.assets],
        asset_checks=facilities.checks,
        jobs=list(jobs.values()),
        sensors=[
            *(landing_sensor(domain, job) for domain, job in jobs.items()),
            dg.AutomationConditionSensorDefinition(
                "report_automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING
            ),
        ],
        resources=resources,
    )


defs = make_definitions(build_resources())
