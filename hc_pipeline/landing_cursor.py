"""The landing sensors' cursor: which object versions were already requested, robust to same-second uploads."""

import json
from dataclasses import dataclass, field

from hc_pipeline.resources.landing import LandedObject

# An upload can finish (become listable) after a later one; re-look this far behind the newest seen.
LOOKBACK_SECONDS = 900.0


@dataclass
class LandingCursor:
    """The newest `last_modified` seen, the run keys seen within the lookback window before it, and listing state.

    `high_key` is the greatest key a listing returned with nothing left over by the per-tick cap, so a listing
    that starts after it still sees every key sorting later; `full_at` is when the last full listing was taken,
    `listed` how many objects it returned.
    """

    watermark: float = 0.0
    seen: dict[str, float] = field(default_factory=dict)
    high_key: str = ""
    full_at: float = 0.0
    listed: int = 0

    @classmethod
    def load(cls, text: str | None) -> "LandingCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            watermark=data["watermark"],
            seen=data["seen"],
            high_key=data.get("high_key", ""),
            full_at=data.get("full_at", 0.0),
            listed=data.get("listed", 0),
        )

    def dump(self) -> str:
        fields = {"watermark": self.watermark, "seen": self.seen, "high_key": self.high_key}
        return json.dumps({**fields, "full_at": self.full_at, "listed": self.listed}, sort_keys=True)

    def wants_full_listing(self, now: float, every_seconds: float, below: int) -> bool:
        """A full listing is due: none yet, the zone held fewer than `below` objects, or the last is old."""
        return not self.high_key or self.listed < below or now - self.full_at >= every_seconds


def plan_tick(
    objects: list[LandedObject], cursor: LandingCursor, max_runs: int, full_listing_at: float | None = None
) -> tuple[list[LandedObject], LandingCursor]:
    """The object versions to request now (oldest first, at most `max_runs`) and the cursor after them.

    `full_listing_at` says `objects` is a full listing taken then; otherwise it is a listing after `high_key`.
    """
    floor = cursor.watermark - LOOKBACK_SECONDS
    candidates = sorted(
        (o for o in objects if o.last_modified >= floor and o.run_key not in cursor.seen),
        key=lambda o: (o.last_modified, o.key),
    )
    chosen = candidates[:max_runs]
    seen = dict(cursor.seen)
    seen.update({o.run_key: o.last_modified for o in chosen})
    watermark = max([cursor.watermark, *(o.last_modified for o in chosen)])
    seen = {k: t for k, t in seen.items() if t >= watermark - LOOKBACK_SECONDS}
    complete = len(chosen) == len(candidates)  # nothing left for a later tick
    high_key = max([cursor.high_key, *(o.key for o in objects)]) if complete else cursor.high_key
    full = complete and full_listing_at is not None
    return chosen, LandingCursor(
        watermark=watermark,
        seen=seen,
        high_key=high_key,
        full_at=full_listing_at if full else cursor.full_at,
        listed=len(objects) if full else cursor.listed,
    )
