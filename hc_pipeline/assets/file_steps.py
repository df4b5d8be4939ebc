"""The per-file steps as plain functions: an asset step yields their results, a batch step records them per file."""

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from hc_pipeline.resources.landing import LandedObject, LandingZone
from hc_pipeline.resources.query_engine import QueryEngine
from hc_pipeline.resources.storage import LakeStorage


@dataclass(frozen=True)
class StepResult:
    """What one step made of one file: each asset's frame and metadata, and the check results."""

    outputs: dict[dg.AssetKey, tuple[pd.DataFrame, dict]]
    checks: list[dg.AssetCheckResult]

    def frame(self, key: dg.AssetKey) -> pd.DataFrame:
        return self.outputs[key][0]

    def blocked(self, blocking: Mapping[str, bool]) -> bool:
        """True when a blocking check failed: nothing downstream runs for the file."""
        return any(not check.passed and blocking.get(check.check_name, False) for check in self.checks)

    def step_events(self, output_names: Mapping[dg.AssetKey, str]) -> Iterator[dg.Output | dg.AssetCheckResult]:
        """The outputs and check results as an asset step yields them."""
        for key, (frame, metadata) in self.outputs.items():
            yield dg.Output(frame, output_name=output_names[key], metadata=metadata)
        yield from self.checks


# (landed object, partition, landing, storage, logger) -> raw records
ReadStep = Callable[[LandedObject, str, LandingZone, LakeStorage, Any], StepResult]
# (raw, landed object, partition, storage, engine, rules date) -> curated, quarantined, exceptions
CurateStep = Callable[[pd.DataFrame, LandedObject, str, LakeStorage, QueryEngine, dt.date], StepResult]
# (curated, quarantined, partition, storage) -> the file's report
ReportStep = Callable[[pd.DataFrame, pd.DataFrame, str, LakeStorage], StepResult]


@dataclass(frozen=True)
class FileSteps:
    """A domain's per-file steps in order: read, curate, and the per-file report when the domain has one."""

    domain: str
    read: ReadStep
    curate: CurateStep
    report: ReportStep | None = None
