"""The landing zone: where teams drop files, listed and read by the sensors and the assets."""

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import BinaryIO

import dagster as dg
from pydantic import Field, PrivateAttr

from hc_pipeline.stores.landed import LandedObject, VersionChanged
from hc_pipeline.stores.local_landing import SETTLE_SECONDS, LocalLanding

__all__ = ["LandedObject", "LandingZone", "LocalLandingZone", "VersionChanged"]


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

    @property
    @abstractmethod
    def store(self):
        """The Dagster-free implementation (`hc_pipeline.stores`) every method below delegates to."""

    def list_objects(self, domain: str, start_after: str | None = None) -> Iterator[LandedObject]:
        """Every object under `<domain>/`, in any order; with `start_after`, only keys that sort after it."""
        return iter(self.store.list_objects(domain, start_after))

    def read_bytes(self, key: str, version: str | None = None) -> bytes:
        """The content of the object at `key`; with `version`, only if it is still that version."""
        return self.store.read_bytes(key, version)

    def open(self, key: str, version: str | None = None) -> BinaryIO:
        """The object as a stream, read at `version` as `read_bytes` reads it; close it after use."""
        return self.store.open(key, version)

    def put(self, key: str, data: bytes) -> LandedObject:
        """Land `data` at `key`, replacing any earlier version."""
        return self.store.put(key, data)

    def put_file(self, key: str, source: str | os.PathLike) -> LandedObject:
        """Land the file at `source` at `key`, streamed in constant memory."""
        return self.store.put_file(key, source)

    def uri(self, key: str) -> str:
        """Where the object lives, for people to find it."""
        return self.store.uri(key)


class LocalLandingZone(LandingZone):
    """The landing zone as a local folder: `<root>/landing/<domain>/...`; the version is the content's MD5."""

    root: str
    settle_seconds: float = Field(
        default=SETTLE_SECONDS,
        description="A file copied into the folder (not landed by `ingest`) is taken once unchanged this long.",
    )

    _store: LocalLanding | None = PrivateAttr(default=None)

    @property
    def store(self) -> LocalLanding:
        """The Dagster-free implementation, shared with `hc-pipeline ingest`."""
        if self._store is None:
            self._store = LocalLanding(self.root, self.settle_seconds)
        return self._store
