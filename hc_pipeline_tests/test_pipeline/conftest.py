"""One generated corpus (12,000 patient rows, 200 facilities), landed and processed once for the module."""

import csv

import dagster as dg
import pytest

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline.generate.writer import generate
from hc_pipeline_tests.conftest import RUN_DATE, process


@pytest.fixture(scope="package")
def corpus(tmp_path_factory):
    """The generated files, their ground truth, and the pipeline's results over them."""
    samples = tmp_path_factory.mktemp("samples")
    home = tmp_path_factory.mktemp("hc_home")
    summary = generate(
        samples, patients=12_000, facilities=200, defect_rate=0.05, seed=11, run_date=RUN_DATE, synthea_patients=150
    )
    resources = build_resources({"HC_HOME": str(home)})
    for domain in ("patients", "facilities"):
        for path in sorted((samples / domain).iterdir()):
            resources["landing"].put(f"{domain}/{path.name}", path.read_bytes())
    dagster_home = tmp_path_factory.mktemp("dagster_home")
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        defs = make_definitions(resources)
        run = process(defs, instance)
        with (samples / "ground_truth.csv").open() as handle:
            truth = list(csv.DictReader(handle))
        yield {
            "samples": samples,
            "home": home,
            "generated": summary,
            "truth": truth,
            "run": run,
            "instance": instance,
            "dagster_home": dagster_home,
            "resources": resources,
            "defs": defs,
        }
