"""Written file names stay within filesystem limits: long ones keep head and extension and hash the rest."""

from hc_pipeline.stores.names import bounded_name


def test_short_names_are_kept():
    assert bounded_name("adm [v2], émission.csv") == "adm [v2], émission.csv"


def test_long_names_are_bounded_distinct_and_keep_their_extension():
    first, second = "é" * 150 + "a.csv", "é" * 150 + "b.csv"
    assert len(first.encode()) > 200
    bounded = bounded_name(first), bounded_name(second)
    assert all(len(name.encode()) <= 200 and name.endswith(".csv") for name in bounded)
    assert bounded[0] != bounded[1] and bounded[0].startswith("é" * 50)
    assert bounded_name(first) == bounded[0]
