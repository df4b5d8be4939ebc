"""Each domain's assets by role: per-file (one partition per landed file), reports, and those that take dates."""

from hc_pipeline.assets import facilities, patients
from hc_pipeline.assets.quality import quality_reports

PER_FILE = {"patients": patients.per_file_assets, "facilities": facilities.per_file_assets}
FILE_STEPS = {"patients": patients.file_steps, "facilities": facilities.file_steps}
REPORTS = {
    "patients": [*patients.report_assets, quality_reports["patients"]],
    "facilities": [*facilities.report_assets, quality_reports["facilities"]],
}
DATED = [*patients.dated_assets, *facilities.dated_assets]
