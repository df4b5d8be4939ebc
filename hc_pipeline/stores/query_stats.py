"""What one query cost, where the engine bills it."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class QueryStats:
    """What one query cost where the engine bills it (Athena): its id, the bytes it scanned and the engine time."""

    query_id: str
    data_scanned_bytes: int
    engine_ms: int

    def to_metadata(self) -> dict[str, Any]:
        return {
            "athena/query_id": self.query_id,
            "athena/data_scanned_bytes": self.data_scanned_bytes,
            "athena/engine_ms": self.engine_ms,
        }
