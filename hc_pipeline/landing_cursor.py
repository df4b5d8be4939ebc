"""The landing sensors' cursor: which object versions were already requested, robust to same-second uploads."""

import json
from dataclasses import dataclass, field

from hc_pipeline.resources.landing import LandedObject

# An upload can finish (become listable) after a later one; re-look this far behind the newest seen.
LOOKBACK_SECONDS = 900.0


@dataclass
class LandingCursor:
    """The newest `last_modified` seen, and the run keys seen within the lookback window before it."""

    watermark: float = 0.0
    seen: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, text: str | None) -> "LandingCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(watermark=data["watermark"], seen=data["seen"])

    def dump(self) -> str:
        return json.dumps({"watermark": self.watermark, "seen": self.seen}, sort_keys=True)


def plan_tick(
    objects: list[LandedObject], cursor: LandingCursor, max_runs: int
) -> tuple[list[LandedObject], LandingCursor]:
    """The object versions to request now (oldest first, at most `max_runs`) and the cursor after them."""
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
    return chosen, LandingCursor(watermark=watermark, seen=seen)
