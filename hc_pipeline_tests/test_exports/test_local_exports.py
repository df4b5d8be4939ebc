"""Local exports: every report refresh published as CSV and JSON under exports/, equal to its SQL table."""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from hc_pipeline.definitions import make_definitions
from hc_pipeline.deployment import build_resources
from hc_pipeline.generate.writer import generate
from hc_pipeline.resources.exports import ReportExports, to_csv, to_json
from hc_pipeline.resources.notifier import Notifier
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline_tests.conftest import RUN_DATE, process
from hc_pipeline_tests.test_exports.export_checks import REPORTS, assert_export_matches_table


class FileNotifier(Notifier):
    """Appends each notification as a JSON line to `path` (a file survives Dagster copying the resource)."""

    path: str

    def notify(self, subject: str, message: str) -> None:
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"subject": subject, "message": message}) + "\n")


def land_all(resources: dict, samples: Path, domains=("patients", "facilities")) -> None:
    for domain in domains:
        for path in sorted((samples / domain).iterdir()):
            resources["landing"].put(f"{domain}/{path.name}", path.read_bytes())


def report_files(home: Path, domain: str, report: str) -> list[str]:
    return sorted(p.name for p in (home / "exports" / domain / report).iterdir())


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """Generated patients and facilities, landed and processed once, with a notifier that records."""
    samples, home = tmp_path_factory.mktemp("samples"), tmp_path_factory.mktemp("hc_home")
    generate(samples, patients=600, facilities=80, defect_rate=0.05, seed=21, run_date=RUN_DATE)
    resources = build_resources({"HC_HOME": str(home)})
    resources["notifier"] = FileNotifier(path=str(home / "notifications.jsonl"))
    land_all(resources, samples)
    with dg.instance_for_test() as instance:
        summary = process(make_definitions(resources), instance)
        assert not summary.failed
        yield {"home": home, "resources": resources, "instance": instance, "samples": samples}


def test_each_report_has_one_timestamped_and_a_latest_csv_and_json(ran):
    exports = ran["home"] / "exports"
    assert sorted(p.name for p in exports.iterdir()) == ["facilities", "patients"]
    for domain, reports in REPORTS.items():
        assert sorted(p.name for p in (exports / domain).iterdir()) == sorted(reports), domain
        for report in reports:
            names = report_files(ran["home"], domain, report)
            assert len(names) == 4 and names[2:] == ["latest.csv", "latest.json"], names
            stamp = names[0].removesuffix(".csv")
            assert names[1] == f"{stamp}.json"
            assert dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ")  # a UTC timestamp
    assert not list(exports.rglob(".*"))  # no partial file left behind


def test_exports_equal_the_sql_table_row_for_row(ran):
    engine = ran["resources"]["query_engine"]
    for domain, reports in REPORTS.items():
        for report in reports:
            table = engine.query(f"SELECT * FROM {domain}_{report}")
            assert len(table) > 0, report
            folder = ran["home"] / "exports" / domain / report
            for csv_name, json_name in (
                ("latest.csv", "latest.json"),
                tuple(report_files(ran["home"], domain, report)[:2]),
            ):
                assert_export_matches_table(
                    (folder / csv_name).read_bytes(), (folder / json_name).read_bytes(), table, f"{report}/{csv_name}"
                )
            assert (folder / "latest.csv").read_bytes() == (
                folder / report_files(ran["home"], domain, report)[0]
            ).read_bytes()


def test_json_reads_back_with_pandas_and_csv_dates_are_plain_days(ran):
    folder = ran["home"] / "exports" / "facilities" / "expiring_accreditations"
    frame = pd.read_json(folder / "latest.json", orient="records", dtype=False)
    assert list(frame.columns)[:2] == ["facility_id", "facility_name"]
    csv_frame = pd.read_csv(folder / "latest.csv", dtype=str, keep_default_na=False)
    assert csv_frame["expiry_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(csv_frame["tier"]) <= {"expired", "critical", "high", "medium", "upcoming"}


def test_patient_level_tables_are_never_exported(ran):
    exported = {p.parent.name for p in (ran["home"] / "exports").rglob("latest.csv")}
    assert "readmissions" not in exported and "curated_records" not in exported
    assert "patients_readmissions" in ran["resources"]["query_engine"].tables()  # it exists, only as a table
    with pytest.raises(ValueError, match="patients/readmissions is not an exported report"):
        ran["resources"]["exports"].publish("patients", "readmissions", pd.DataFrame({"patient_id": ["P1"]}))


def test_materialization_metadata_links_the_export_paths(ran):
    for domain, reports in REPORTS.items():
        for report in reports:
            event = ran["instance"].get_latest_materialization_event(dg.AssetKey([domain, report]))
            metadata = event.asset_materialization.metadata
            for key in ("export/csv", "export/json", "export/latest_csv", "export/latest_json"):
                assert Path(metadata[key].value).is_file(), (report, key)
            assert metadata["export/latest_csv"].value == str(ran["home"] / "exports" / domain / report / "latest.csv")


def test_tier_message_names_the_latest_csv(ran):
    sent = [json.loads(line) for line in (ran["home"] / "notifications.jsonl").read_text().splitlines()]
    tiers = [m for m in sent if "expiring accreditations" in m["subject"]]
    assert len(tiers) == 1
    latest = ran["home"] / "exports" / "facilities" / "expiring_accreditations" / "latest.csv"
    assert f"Full list (CSV): {latest}" in tiers[0]["message"]


def test_latest_changes_only_after_a_new_refresh(tmp_path):
    samples, home = tmp_path / "samples", tmp_path / "home"
    generate(samples, patients=50, facilities=60, defect_rate=0.0, seed=4, run_date=RUN_DATE, facility_files=3)
    files = sorted((samples / "facilities").iterdir())
    resources = build_resources({"HC_HOME": str(home)})
    folder = home / "exports" / "facilities" / "state_counts"
    with dg.instance_for_test() as instance:
        defs = make_definitions(resources)
        resources["landing"].put(f"facilities/{files[0].name}", files[0].read_bytes())
        process(defs, instance)
        first = (folder / "latest.json").read_bytes()
        assert len(report_files(home, "facilities", "state_counts")) == 4

        process(defs, instance)  # nothing new landed: no refresh, nothing published
        assert len(report_files(home, "facilities", "state_counts")) == 4
        assert (folder / "latest.json").read_bytes() == first

        resources["landing"].put(f"facilities/{files[1].name}", files[1].read_bytes())
        process(defs, instance)
        names = report_files(home, "facilities", "state_counts")
        assert len(names) == 6
        second = (folder / "latest.json").read_bytes()
        assert second != first and second == (folder / names[3]).read_bytes()
        table = resources["query_engine"].query("SELECT * FROM facilities_state_counts")
        assert_export_matches_table((folder / "latest.csv").read_bytes(), second, table, "state_counts")


def test_retention_keeps_the_newest_n_and_touches_nothing_else(tmp_path):
    storage = LakeStorage(root=str(tmp_path))
    exports = ReportExports(storage=storage, keep=3)
    folder = tmp_path / "exports" / "facilities" / "state_counts"
    folder.mkdir(parents=True)
    (folder / "README.txt").write_text("kept")
    (tmp_path / "landing" / "facilities").mkdir(parents=True)
    (tmp_path / "landing" / "facilities" / "20200101T000000000000Z.csv").write_text("landed files are never deleted")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for n in range(5):
        published = exports.publish(
            "facilities", "state_counts", pd.DataFrame({"state": ["OH"], "n": [n]}), now=start + dt.timedelta(days=n)
        )
    assert published.removed == ("20260102T000000000000Z.csv", "20260102T000000000000Z.json")
    assert sorted(p.name for p in folder.iterdir()) == [
        "20260103T000000000000Z.csv",
        "20260103T000000000000Z.json",
        "20260104T000000000000Z.csv",
        "20260104T000000000000Z.json",
        "20260105T000000000000Z.csv",
        "20260105T000000000000Z.json",
        "README.txt",
        "latest.csv",
        "latest.json",
    ]
    assert json.loads((folder / "latest.json").read_text()) == [{"state": "OH", "n": 4}]
    assert (tmp_path / "landing" / "facilities" / "20200101T000000000000Z.csv").exists()


class FailingJsonStorage(LakeStorage):
    """Local storage whose timestamped JSON write fails, as a lost connection would."""

    def write_bytes(self, path, data: bytes):
        if path.name.endswith("Z.json"):
            raise OSError(f"{path.name}: connection reset")
        return super().write_bytes(path, data)


def test_latest_stays_on_the_previous_export_when_a_new_one_is_incomplete(tmp_path):
    ok = ReportExports(storage=LakeStorage(root=str(tmp_path)))
    ok.publish("facilities", "state_counts", pd.DataFrame({"state": ["OH"]}))
    folder = tmp_path / "exports" / "facilities" / "state_counts"
    before = {name: (folder / name).read_bytes() for name in ("latest.csv", "latest.json")}
    failing = ReportExports(storage=FailingJsonStorage(root=str(tmp_path)))
    with pytest.raises(OSError, match="connection reset"):
        failing.publish("facilities", "state_counts", pd.DataFrame({"state": ["TX"]}))
    assert {name: (folder / name).read_bytes() for name in before} == before


def test_formats_dates_lists_and_missing_values_for_spreadsheets():
    frame = pd.DataFrame(
        {
            "facility_id": ["F1", "F2"],
            "expiry_date": pd.to_datetime(["2025-07-01", None]),
            "services": [["Radiology", "Emergency Care"], []],
            "rate": [0.5, float("nan")],
            "count": pd.array([3, None], dtype="Int64"),
            "name": ["Café Ünïcode", None],
        }
    )
    assert to_csv(frame).decode("utf-8").splitlines() == [
        "facility_id,expiry_date,services,rate,count,name",
        "F1,2025-07-01,Radiology; Emergency Care,0.5,3,Café Ünïcode",
        "F2,,,,,",
    ]
    assert json.loads(to_json(frame)) == [
        {
            "facility_id": "F1",
            "expiry_date": "2025-07-01",
            "services": ["Radiology", "Emergency Care"],
            "rate": 0.5,
            "count": 3,
            "name": "Café Ünïcode",
        },
        {"facility_id": "F2", "expiry_date": None, "services": [], "rate": None, "count": None, "name": None},
    ]
