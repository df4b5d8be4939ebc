"""The landing zone: where teams drop files, listed and read by the sensors and the assets."""

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
from pydantic import Field
from upath import UPath


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


class LandingZone(dg.ConfigurableResource, ABC):
    """Lists, reads and receives landed files; local folder and S3 share this interface."""

    full_listing_seconds: float = Field(
        default=300.0,
        description="Seconds between full listings in listing mode; ticks between them list only keys that sort "
        "after the greatest key seen (time-ordered keys are seen at once, others by the next full listing).",
    )
    full_listing_below: int = Field(
        default=5000, description="A zone with fewer objects than this is listed in full every tick."
    )

    @abstractmethod
    def list_objects(self, domain: str, start_after: str | None = None) -> Iterator[LandedObject]:
        """Every object under `<domain>/`, in any order; with `start_after`, only keys that sort after it."""

    @abstractmethod
    def read_bytes(self, key: str, version: str | None = None) -> bytes:
        """The content of the object at `key`; with `version`, only if it is still that version."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> LandedObject:
        """Land `data` at `key`, replacing any earlier version."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """Where the object lives, for people to find it."""


class LocalLandingZone(LandingZone):
    """The landing zone as a local folder: `<root>/landing/<domain>/...`; the version is the content's MD5."""

    root: str

    @property
    def _landing(self) -> UPath:
        return UPath(self.root) / "landing"

    def list_objects(self, domain: str, start_after: str | None = None) -> Iterator[LandedObject]:
        folder = self._landing / domain
        if not folder.exists():
            return
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} is not a folder")
        for path in sorted(folder.rglob("*")):
            if start_after and path.relative_to(self._landing).as_posix() <= start_after:
                continue
            if path.is_file() and not path.name.startswith("."):
                yield self._describe(path)

    def _describe(self, path: UPath) -> LandedObject:
        stat = path.stat()
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        key = path.relative_to(self._landing).as_posix()
        return LandedObject(key=key, version=digest, last_modified=stat.st_mtime, size=stat.st_size)

    def read_bytes(self, key: str, version: str | None = None) -> bytes:
        data = (self._landing / key).read_bytes()
        if version and hashlib.md5(data, usedforsecurity=False).hexdigest() != version:
            raise VersionChanged(
                f"{key}: the file changed after version {version} landed; the new version is its own partition"
            )
        return data

    def put(self, key: str, data: bytes) -> LandedObject:
        target = self._landing / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_bytes(data)
        partial.rename(target)
        return self._describe(target)

    def uri(self, key: str) -> str:
        return str(self._landing / key)
