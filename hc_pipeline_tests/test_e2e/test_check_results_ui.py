"""What a steward sees in the UI: each file's check results, rendered by headless Chromium from a live webserver.

Two seed-like files are processed as `hc-pipeline run` does (the clean one last), then dagster-webserver serves
that instance. Screenshots stay in each test's temporary directory.
"""

import re
import shutil
from urllib.parse import quote

import pytest

from bench.deployment import Deployment
from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline.metadata import model_descriptions
from hc_pipeline.partitions import partition_key_for
from hc_pipeline.runner import instance_for
from hc_pipeline.schemas.patients import CuratedAdmissions
from hc_pipeline_tests.conftest import process
from hc_pipeline_tests.steward_files import BAD_FAILING_GROUPS, BAD_FILE, GOOD_FILE
from hc_pipeline_tests.test_e2e.browser import Browser

pytestmark = pytest.mark.e2e
GROUPS = ("completeness", "conformance", "plausibility", "uniqueness")
ASSET = "/assets/patients/curated_records"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("hc_home")
    resources = build_resources({"HC_HOME": str(home)})
    bad, good = (resources["landing"].put(key, data) for key, data in (BAD_FILE, GOOD_FILE))
    instance = instance_for(home)
    process(make_definitions(resources), instance)
    instance.dispose()
    deployment = Deployment(home / "dagster", {"HC_HOME": str(home)}).start(daemon=False)
    yield {
        "url": deployment.url,
        "bad": partition_key_for(bad.key, bad.version),
        "good": partition_key_for(good.key, good.version),
    }
    assert deployment.stop() == []


@pytest.fixture
def browser(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed: `make test` installs the Debian package `chromium`")
    opened = Browser(chromium, tmp_path / "profile")
    yield opened
    opened.close()


def status_of(history: str, partition: str) -> str:
    """The evaluation result on the execution-history row of `partition` (the status word before its key)."""
    table = history[history.index("Evaluation result") :]
    return re.findall(r"\b(Passed|Failed)\b", table[: table.index(partition)])[-1]


def test_checks_tab_headline_fails_while_a_file_fails_and_each_file_has_its_result(served, browser, tmp_path):
    # The list of checks: a group's headline is Failed as long as one file fails it, though the clean file ran last.
    headlines = [
        f"\n{name}\n{name}\n{'Failed' if name in BAD_FAILING_GROUPS else 'Succeeded'}\n"
        for name in (*GROUPS, "curated_schema", "row_conservation")
    ]
    browser.open(f"{served['url']}{ASSET}?view=checks&checkDetail=completeness", "Latest execution", *headlines)
    browser.screenshot(tmp_path / "checks_completeness_overview.png")

    for group in GROUPS:
        browser.open(f"{served['url']}{ASSET}?view=checks&checkDetail={group}", "Latest execution")
        browser.click("Partitions")
        failed = group in BAD_FAILING_GROUPS
        browser.wait_for_text(served["bad"], served["good"], f"Failed ({int(failed)})", f"Passed ({2 - int(failed)})")
        browser.screenshot(tmp_path / f"checks_{group}_partitions.png")
        browser.click("Execution history")
        history = browser.wait_for_text("Evaluation result", served["bad"], served["good"])
        assert status_of(history, served["bad"]) == ("Failed" if failed else "Passed"), group
        assert status_of(history, served["good"]) == "Passed", group
        browser.screenshot(tmp_path / f"checks_{group}_history.png")


def test_partitions_tab_lists_each_file_with_its_materialization(served, browser, tmp_path):
    browser.open(f"{served['url']}{ASSET}?view=partitions", "Materialized (2)", "Failed (0)")
    browser.screenshot(tmp_path / "partitions.png")
    detail = browser.open(
        f"{served['url']}{ASSET}?view=partitions&partition={quote(served['bad'])}", served["bad"], "rows_with_warnings"
    )
    assert re.search(r"dagster/row_count\s+5\b", detail) and re.search(r"rows_with_warnings\s+4\b", detail)
    browser.screenshot(tmp_path / "partitions_bad_file.png")
    # The Columns of the table schema carry the pandera contract's descriptions.
    browser.click("[Show Table Schema]")
    browser.wait_for_text(*(model_descriptions(CuratedAdmissions)[c] for c in ("age", "gender", "source_file")))
    browser.screenshot(tmp_path / "table_schema.png")
