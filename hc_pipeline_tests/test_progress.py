"""Per-file progress of `run`: plain lines off a terminal, one live line replaced in place on a terminal."""

import io
import itertools

from hc_pipeline.progress import CLEAR_LINE, FileProgress


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
