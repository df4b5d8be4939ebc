"""Per-file progress of `run`: plain lines off a terminal, one live line replaced in place on a terminal."""

import io
import itertools
import re

from hc_pipeline.progress import CLEAR_LINE, FileProgress, counted, shown_to
from hc_pipeline.runner import run_pending
from hc_pipeline.sources import patients_csv
from hc_pipeline_tests.conftest import RUN_DATE
from hc_pipeline_tests.test_review.seed import ADMISSIONS


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_number_each_file_and_give_rows_and_rate():
    out, clock = io.StringIO(), itertools.count(0.0, 2.0).__next__  # each call 2 s later
    progress = FileProgress(out, "patients", 2, clock=clock)
    progress.start("patients/a.csv")
    progress.finish("patients/a.csv", 10_000, "done")
    progress.start("patients/b.csv")
    progress.finish("patients/b.csv", None, "failed")
    assert out.getvalue().splitlines() == [
        "patients: file 1 of 2: patients/a.csv: 10,000 rows in 2.0 s (5,000 rows/s), done",
        "patients: file 2 of 2: patients/b.csv, failed",
    ]


def test_on_a_terminal_the_file_in_hand_shows_until_its_line_replaces_it():
    out = Terminal()
    progress = FileProgress(out, "facilities", 1, clock=itertools.count(0.0, 0.5).__next__)
    progress.start("facilities/x.json")
    assert out.getvalue() == f"{CLEAR_LINE}facilities: file 1 of 1: facilities/x.json ..."
    progress.finish("facilities/x.json", 300, "stopped by a blocking check")
    assert out.getvalue().endswith(
        f"{CLEAR_LINE}facilities: file 1 of 1: facilities/x.json: 300 rows in 0.5 s (600 rows/s), "
        "stopped by a blocking check\n"
    )


def test_on_a_terminal_a_phase_with_a_total_draws_a_bar_at_most_every_fifth_of_a_second_and_at_its_end():
    out, ticks = Terminal(), iter([0.0, 1.0, 1.1, 1.5, 2.0])
    progress = FileProgress(out, "patients", 1, clock=lambda: next(ticks))
    progress.start("patients/big.csv")
    out.truncate(0), out.seek(0)
    progress.advance("curating, sweep 1", 0, 1000)  # 1.0: the phase begins
    progress.advance("curating, sweep 1", 100, 1000)  # 1.1: too soon, not drawn
    progress.advance("curating, sweep 1", 500, 1000)  # 1.5
    progress.advance("curating, sweep 1", 1000, 1000)  # 2.0: the end
    prefix = f"{CLEAR_LINE}patients: file 1 of 1: patients/big.csv: curating, sweep 1 "
    assert out.getvalue().split(CLEAR_LINE)[1:] == [
        line.removeprefix(CLEAR_LINE)
        for line in (
            f"{prefix}[....................] 0% of 1,000 rows",
            f"{prefix}[##########..........] 50% of 1,000 rows (1,000 rows/s)",
            f"{prefix}[####################] 100% of 1,000 rows (1,000 rows/s)",
        )
    ]


def test_off_a_terminal_rows_in_progress_print_nothing():
    out = io.StringIO()
    progress = FileProgress(out, "patients", 1, clock=itertools.count(0.0, 1.0).__next__)
    progress.start("patients/big.csv")
    with shown_to(progress.advance):
        assert [len(f) for f in counted([[1, 2], [3]], "reading")] == [2, 1]
    assert out.getvalue() == ""


def test_counted_reports_each_frames_rows_once_the_consumer_is_done_with_it_and_nothing_outside_shown_to():
    told = []
    frames = counted([[1, 2], [3]], "reading", 3)
    assert list(frames) == [[1, 2], [3]]  # nobody shows progress: nothing told
    with shown_to(lambda *args: told.append(args)):
        walk = counted([[1, 2], [3]], "reading", 3)
        next(walk)
        assert told == [("reading", 0, 3)]
        list(walk)
    assert told == [("reading", 0, 3), ("reading", 2, 3), ("reading", 3, 3)]


def test_a_file_read_and_curated_in_batches_shows_each_phase_up_to_its_end_on_a_terminal(
    monkeypatch, defs, instance, land
):
    monkeypatch.setattr(patients_csv, "BLOCK_BYTES", 128)
    land("patients/admissions.csv", ADMISSIONS.encode())
    rows = ADMISSIONS.strip().count("\n")
    out = Terminal()
    summary = run_pending(defs, instance, RUN_DATE, progress=out)
    assert summary.processed["patients"] and not summary.failed
    key = "patients: file 1 of 1: patients/admissions.csv"
    drawn = out.getvalue().split(CLEAR_LINE)
    assert drawn[:2] == ["", f"{key} ..."] and drawn[-3].startswith(f"{key}: {rows:,} rows in ")
    assert drawn[-2] == "patients: reports ..." and drawn[-1].startswith("patients: reports refreshed in ")
    live = [line.removeprefix(f"{key}: ") for line in drawn[2:-3]]
    # How many lines between a phase's start and end depends on the machine's speed (a redraw every 0.2 s).
    assert list(dict.fromkeys(re.match(r"reading|curating, sweep \d", line)[0] for line in live)) == [
        "reading",
        "curating, sweep 1",
        "curating, sweep 2",
    ]
    ends = [line.split(" (")[0] for line in live if "100%" in line]
    assert ends == [f"curating, sweep {n} [{'#' * 20}] 100% of {rows:,} rows" for n in (1, 2)]


def test_the_reports_get_a_line_of_their_own_with_their_time_after_the_files():
    plain, live = io.StringIO(), Terminal()
    for out in (plain, live):
        progress = FileProgress(out, "patients", 1, clock=itertools.count(0.0, 1.5).__next__)
        progress.reports_start()
        progress.reports_finish("refreshed")
    assert plain.getvalue() == "patients: reports refreshed in 1.5 s\n"
    assert live.getvalue() == f"{CLEAR_LINE}patients: reports ...{CLEAR_LINE}patients: reports refreshed in 1.5 s\n"


def test_a_run_shows_its_files_then_its_reports(defs, instance, land):
    land("patients/admissions.csv", ADMISSIONS.encode())
    out = io.StringIO()
    assert run_pending(defs, instance, RUN_DATE, progress=out).reports_refreshed
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("patients: file 1 of 1: patients/admissions.csv: ")
    assert re.fullmatch(r"patients: reports refreshed in \d+\.\d s", lines[1])
