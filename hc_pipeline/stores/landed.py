"""What a landed file is: its key below the landing zone, its version, and the domains files land in."""

from dataclasses import dataclass

DOMAINS = ("patients", "facilities")


@dataclass(frozen=True)
class LandedObject:
    """One version of a landed file; `key` is relative to the landing zone, e.g. `patients/a.csv`."""

    key: str
    version: str
    last_modified: float
    size: int

    @property
    def run_key(self) -> str:
        return f"{self.key}@{self.version}"


class VersionChanged(Exception):
    """The landed object was replaced by a newer version."""
