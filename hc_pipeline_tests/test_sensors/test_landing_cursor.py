"""The cursor logic, case by case, without Dagster."""

from hc_pipeline.landing_cursor import LOOKBACK_SECONDS, LandingCursor, plan_tick
from hc_pipeline.resources.landing import LandedObject


def obj(key: str, version: str = "v1", at: float = 1000.0) -> LandedObject:
    return LandedObject(key=key, version=version, last_modified=at, size=1)


def test_first_tick_takes_everything_oldest_first():
    chosen, cursor = plan_tick([obj("p/b", at=2000), obj("p/a", at=1000)], LandingCursor(), 10)
    assert [o.key for o in chosen] == ["p/a", "p/b"]
    assert cursor.watermark == 2000


def test_nothing_new_requests_nothing():
    objects = [obj("p/a"), obj("p/b", at=1001)]
    _, cursor = plan_tick(objects, LandingCursor(), 10)
    chosen, again = plan_tick(objects, LandingCursor.load(cursor.dump()), 10)
    assert chosen == [] and again == cursor


def test_same_second_upload_after_a_tick_is_still_seen():
    _, cursor = plan_tick([obj("p/a", at=1000)], LandingCursor(), 10)
    chosen, _ = plan_tick([obj("p/a", at=1000), obj("p/b", at=1000)], cursor, 10)
    assert [o.key for o in chosen] == ["p/b"]


def test_overwrite_with_new_etag_is_requested_again():
    _, cursor = plan_tick([obj("p/a", "e1", at=1000)], LandingCursor(), 10)
    chosen, _ = plan_tick([obj("p/a", "e2", at=1005)], cursor, 10)
    assert [o.run_key for o in chosen] == ["p/a@e2"]


def test_deleting_a_seen_object_changes_nothing():
    _, cursor = plan_tick([obj("p/a"), obj("p/b", at=1001)], LandingCursor(), 10)
    chosen, after = plan_tick([obj("p/b", at=1001)], cursor, 10)
    assert chosen == [] and after.watermark == cursor.watermark


def test_cap_defers_the_rest_to_the_next_tick_in_order():
    objects = [obj(f"p/{i:02d}", at=1000 + i // 3) for i in range(7)]
    first, cursor = plan_tick(objects, LandingCursor(), 3)
    second, cursor = plan_tick(objects, cursor, 3)
    third, cursor = plan_tick(objects, cursor, 3)
    assert [o.key for o in first + second + third] == [f"p/{i:02d}" for i in range(7)]
    assert plan_tick(objects, cursor, 3)[0] == []


def test_late_listed_object_within_lookback_is_still_seen():
    _, cursor = plan_tick([obj("p/new", at=5000)], LandingCursor(), 10)
    chosen, _ = plan_tick([obj("p/new", at=5000), obj("p/slow", at=5000 - LOOKBACK_SECONDS + 1)], cursor, 10)
    assert [o.key for o in chosen] == ["p/slow"]


def test_cursor_forgets_keys_older_than_the_lookback():
    _, cursor = plan_tick([obj("p/old", at=0)], LandingCursor(), 10)
    _, cursor = plan_tick([obj("p/new", at=LOOKBACK_SECONDS * 3)], cursor, 10)
    assert list(cursor.seen) == ["p/new@v1"]


def test_a_capped_listing_keeps_its_high_key_and_stays_due_for_a_full_listing():
    objects = [obj("p/a", at=1000), obj("p/b", at=1001), obj("p/c", at=1002)]
    _, capped = plan_tick(objects, LandingCursor(high_key="p/0"), 2, full_listing_at=5000.0)
    assert capped.high_key == "p/0" and capped.full_at == 0.0 and capped.wants_full_listing(5001.0, 300, 0)
    _, complete = plan_tick(objects, capped, 2, full_listing_at=5010.0)
    assert complete.high_key == "p/c" and complete.full_at == 5010.0 and complete.listed == 3
    assert not complete.wants_full_listing(5100.0, 300, 0) and complete.wants_full_listing(5310.0, 300, 0)
    assert complete.wants_full_listing(5100.0, 300, below=5000)  # a small zone is always listed in full
