"""The hc_pipeline code location: assets, checks, jobs and sensors, on resources chosen by environment."""

import gc
import os
from collections.abc import Mapping

import dagster as dg

from hc_pipeline.alert_sensors import check_failure_alert_sensor, run_failure_alert_sensor
from hc_pipeline.assets import analytics, facilities, review
from hc_pipeline.assets.domains import PER_FILE, REPORTS
from hc_pipeline.batch_job import batch_jobs
from hc_pipeline.deployment import SensorIntervals, build_resources, default_intervals, sensor_intervals
from hc_pipeline.event_sensor import landing_events_sensor
from hc_pipeline.jobs import file_job
from hc_pipeline.review_sensors import decisions_job, decisions_landing_sensor, recuration_sensor
from hc_pipeline.run_checks import failed_checks_tag_sensor
from hc_pipeline.sensors import landing_sensor


def make_definitions(resources: dict, intervals: SensorIntervals | None = None) -> dg.Definitions:
    """Everything in the code location, on the given resources (sensor intervals: the defaults for their mode)."""
    intervals = intervals or default_intervals(event_mode="landing_events" in resources)
    landing_seconds, interval_seconds = intervals.landing, intervals.other
    jobs = {domain: file_job(domain, assets) for domain, assets in PER_FILE.items()}
    batches = batch_jobs()
    # Event mode (an SQS queue in the resources): one reader for every domain instead of a listing per domain.
    landing_sensors = (
        [landing_events_sensor(jobs, batches, landing_seconds)]
        if "landing_events" in resources
        else [landing_sensor(d, job, batches[d], interval_seconds=landing_seconds) for d, job in jobs.items()]
    )
    review_jobs = {domain: decisions_job(domain, review.decisions[domain]) for domain in PER_FILE}
    return dg.Definitions(
        assets=[
            *PER_FILE["patients"],
            *REPORTS["patients"],
            *PER_FILE["facilities"],
            *REPORTS["facilities"],
            *review.assets,
        ],
        asset_checks=[*facilities.checks, *analytics.checks],
        jobs=[*jobs.values(), *batches.values(), *review_jobs.values()],
        sensors=[
            *landing_sensors,
            *(decisions_landing_sensor(d, job, interval_seconds) for d, job in review_jobs.items()),
            *(recuration_sensor(d, jobs[d], PER_FILE[d], interval_seconds) for d in PER_FILE),
            run_failure_alert_sensor,
            check_failure_alert_sensor(),
            *(
                failed_checks_tag_sensor(status, interval_seconds)
                for status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
            ),
            dg.AutomationConditionSensorDefinition(
                "report_automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING
            ),
        ],
        resources=resources,
        # Asset jobs (the report refreshes, materializations launched from the UI) run their steps in the run's
        # process: the multiprocess default starts one process per step, each importing the code location again
        # (2-4 s of CPU apiece on 2 cores, more than the reports' own work).
        executor=dg.in_process_executor,
    )


def definitions_for(env: Mapping[str, str] | None = None) -> dg.Definitions:
    """The code location as the environment (`HC_*`) configures it."""
    env = os.environ if env is None else env
    return make_definitions(build_resources(env), sensor_intervals(env))


defs = definitions_for()
# What a process has loaded with the code location lives as long as it: full collections, which the files' work
# sets off, need not rescan it (the run workers the daemon launches, as `hc-pipeline run` does after its instance).
gc.freeze()
