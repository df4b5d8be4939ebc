"""The HTML quality report, as a person outside Dagster opens it: rendered by headless Chromium, numbers checked."""

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import pytest

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline_tests.conftest import RUN_DATE, process
from hc_pipeline_tests.steward_files import BAD_ERRORS, BAD_FILE, BAD_ROWS, BAD_WARNINGS, GOOD_FILE
from hc_pipeline_tests.test_e2e.browser import HEADLESS

BIN = Path(sys.executable).parent
FLAGS = [*HEADLESS, "--window-size=1400,1400", "--virtual-time-budget=5000"]


class ReportCells(HTMLParser):
    """Numbers by their data attributes: files[file][col], checks[file][check], rules[rule], reasons[reason]."""

    def __init__(self):
        super().__init__()
        self.files, self.checks, self.rules, self.reasons, self.totals = {}, {}, {}, {}, {}
        self.file = self.rule = self.reason = self.total = None
        self.col = None
        self.svg_bars: dict[str, list[tuple[str, float]]] = {}
        self.svg = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self.file, self.rule, self.reason = a.get("data-file"), a.get("data-rule"), a.get("data-reason")
        elif tag == "td" and "data-check" in a and self.file is not None:
            self.checks.setdefault(self.file, {})[a["data-check"]] = a["data-status"]
        elif tag == "td":
            self.col = a.get("data-col")
        elif tag == "span" and "data-total" in a:
            self.total = a["data-total"]
        elif tag == "svg":
            self.svg = a.get("id")
        elif tag == "rect" and self.svg:
            self.svg_bars.setdefault(self.svg, []).append((a["data-file"], float(a["data-share"])))

    def handle_data(self, data):
        if self.col and data.strip():
            value = int(data)
            if self.file is not None:
                self.files.setdefault(self.file, {})[self.col] = value
            elif self.rule is not None:
                self.rules[self.rule] = value
            elif self.reason is not None:
                self.reasons[self.reason] = value
            self.col = None
        elif self.total and data.strip():
            self.totals[self.total] = int(data)
            self.total = None


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """The seed-like patient files processed once; the quality report assets ran after them."""
    root = tmp_path_factory.mktemp("hc_home")
    resources = build_resources({"HC_HOME": str(root)})
    with dg.instance_for_test() as instance:
        for key, data in (BAD_FILE, GOOD_FILE):
            resources["landing"].put(key, data)
        summary = process(make_definitions(resources), instance, RUN_DATE)
    assert "patients/quality_report" in summary.reports_refreshed
    return root


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: `make test` installs the Debian package `chromium`")
    return found


def rendered_dom(page: Path, profile: Path) -> str:
    out = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stdout


def test_the_asset_writes_the_report_chromium_renders_it_with_the_files_numbers(home, tmp_path):
    page = home / "insights" / "patients" / "index.html"
    cells = ReportCells()
    cells.feed(rendered_dom(page, tmp_path / "profile"))

    bad, good = BAD_FILE[0], GOOD_FILE[0]
    assert cells.files == {
        bad: {"landed": 10, "curated": 5, "quarantined": 5, "warnings": 4},
        good: {"landed": 6, "curated": 6, "quarantined": 0, "warnings": 0},
    }
    assert cells.checks[bad] == {
        "row_conservation": "passed",
        "conformance": "failed",
        "completeness": "failed",
        "plausibility": "failed",
        "uniqueness": "passed",
    }
    assert set(cells.checks[good].values()) == {"passed"}
    assert {rule for rule, n in cells.rules.items() if n} == BAD_ERRORS | BAD_WARNINGS
    assert all(cells.rules[rule] == 1 for rule in BAD_ERRORS | BAD_WARNINGS)
    assert cells.reasons == dict.fromkeys(BAD_ERRORS, 1)  # the 5 quarantined rows, one reason each
    assert cells.totals == {
        "files": 2,
        "rows landed": 16,
        "curated": 11,
        "quarantined": 5,
        "files with a failing check": 1,
    }
    assert cells.svg_bars["trend-quarantined"] == [(bad, 0.5), (good, 0.0)]
    assert cells.svg_bars["trend-warnings"] == [(bad, 0.4), (good, 0.0)]

    screenshot = tmp_path / "patients_quality_report.png"
    subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert screenshot.stat().st_size > 10_000


def test_the_report_is_self_contained_and_names_no_patient(home):
    text = (home / "insights" / "patients" / "index.html").read_text()
    for fetched in ("<script", "<link", "src=", "@import", "url("):
        assert fetched not in text
    ids = [row.split(",")[0] for row in BAD_ROWS if row.split(",")[0]]
    ids += [line.split(",")[0] for line in GOOD_FILE[1].decode().splitlines()[1:]]
    assert len(ids) == 15 and not [i for i in ids if re.search(rf"\b{i}\b", text)]


def test_report_command_writes_each_domain(home, tmp_path):
    out = subprocess.run(
        [str(BIN / "hc-pipeline"), "report", str(tmp_path / "site")],
        env={**os.environ, "HC_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert f"patients: 2 file(s) -> {tmp_path / 'site' / 'patients' / 'index.html'}" in out.stdout
    assert "facilities: 0 file(s)" in out.stdout
    cells = ReportCells()
    cells.feed((tmp_path / "site" / "patients" / "index.html").read_text())
    assert cells.files[BAD_FILE[0]]["quarantined"] == 5
    assert "No files processed yet." in (tmp_path / "site" / "facilities" / "index.html").read_text()
