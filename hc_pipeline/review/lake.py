"""Read a lake table's partition files straight from its folder (local or S3), without a query engine."""

import json

import pandas as pd
import pyarrow.parquet as pq
from upath import UPath


def read_parquet_folder(folder: UPath, columns: list[str]) -> pd.DataFrame:
    """Every `*.parquet` in `folder` as one frame of `columns` (an empty frame when there is none)."""
    files = sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(".")) if folder.exists() else []
    frames = []
    for path in files:
        with path.open("rb") as handle:
            frames.append(pq.read_table(handle, columns=columns).to_pandas(ignore_metadata=True))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def superseded_partitions(manifests: UPath) -> set[str]:
    """Partitions (in one domain's run manifests) of object versions a newer version of the same key replaced."""
    newest: dict[str, tuple[float, str]] = {}
    found = []
    for path in manifests.glob("*.json") if manifests.exists() else []:
        record, partition = json.loads(path.read_text()), path.name[: -len(".json")]
        found.append((record["key"], partition))
        newest[record["key"]] = max(
            newest.get(record["key"], (float("-inf"), "")), (record["last_modified"], partition)
        )
    return {partition for key, partition in found if newest[key][1] != partition}
