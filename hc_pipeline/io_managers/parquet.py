"""Parquet files on a UPath: `lake/<domain>/<asset>/<partition>.parquet`, local or on S3."""

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
from upath import UPath

from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.stores.file_table import FileTable, arrow_dtype_for, write_table

EXTENSION = ".parquet"
# Unpartitioned tables get a folder too, so every table has one LOCATION.
UNPARTITIONED = "data"


def lake_file(storage: LakeStorage, asset_key: dg.AssetKey, partition_key: str | None = None) -> UPath:
    """Where the lake keeps one partition of an asset, or an unpartitioned asset's table (its folder's `data`);
    a step that streams its table writes it there."""
    return storage.path("lake", *asset_key.path, f"{partition_key or UNPARTITIONED}{EXTENSION}")


class ParquetUPathIOManager(dg.UPathIOManager):
    """Writes each DataFrame output as one parquet file and reads it back unchanged; a table the step already
    wrote (`FileTable`) stays where it is."""

    extension = EXTENSION

    def __init__(self, storage: LakeStorage):
        super().__init__(base_path=storage.path("lake"))
        self._storage = storage
        # Frames and tables this run wrote, by path: the next step of the same process takes them as they are
        # instead of reading and decoding the file again (one instance per run; a step in another process reads).
        self._written: dict[str, pd.DataFrame | FileTable] = {}

    def get_asset_relative_path(self, context) -> UPath:
        path = UPath(*context.asset_key.path)
        return path if context.has_asset_partitions else path / UNPARTITIONED

    def partition_paths(self, context: dg.InputContext) -> dict[str, UPath]:
        """The parquet file of each partition an input covers, in this IO manager's layout."""
        folder = self._storage.path("lake").joinpath(*context.asset_key.path)
        paths = {key: self.get_path_for_partition(context, folder, key) for key in context.asset_partition_keys}
        return {key: path.with_suffix(path.suffix + self.extension) for key, path in paths.items()}

    def make_directory(self, path: UPath) -> None:
        # S3 has no folders; s3fs's mkdir would HEAD the bucket, which a prefix-scoped IAM policy refuses.
        if not self._storage.is_s3:
            super().make_directory(path)

    def dump_to_path(self, context: dg.OutputContext, obj: pd.DataFrame | FileTable, path: UPath) -> None:
        self.write_frame(path, obj)
        self._written[str(path)] = obj
        extra = self.after_write(context.asset_key, context.has_asset_partitions, path)
        if extra:
            context.add_output_metadata(extra)

    def write_frame(self, path: UPath, obj: pd.DataFrame | FileTable) -> None:
        """One parquet file holding the frame; a table already written at `path` is left as it is."""
        if isinstance(obj, FileTable):
            if str(obj.path) != str(path):
                obj.path.fs.copy(obj.path.path, path.path)
            return
        write_table(path, [obj])

    def after_write(self, asset_key: dg.AssetKey, partitioned: bool, path: UPath) -> dict:
        """What else a write brings into line (none here), as output metadata."""
        return {}

    def write_partition(self, asset_key: dg.AssetKey, partition_key: str, obj: pd.DataFrame | FileTable) -> dict:
        """Store one partition's frame from a batch step, where it lands in an asset step; returns its metadata."""
        path = lake_file(self._storage, asset_key, partition_key)
        self.make_directory(path.parent)
        self.write_frame(path, obj)
        return {"path": dg.MetadataValue.path(str(path)), **self.after_write(asset_key, True, path)}

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pd.DataFrame:
        written = self._written.pop(str(path), None)
        if written is not None:
            return written
        with path.open("rb") as handle:
            return pq.read_table(handle).to_pandas(types_mapper=arrow_dtype_for)


class LakeParquetIOManager(dg.ConfigurableIOManagerFactory):
    """The lake: parquet under the storage root's `lake/` zone."""

    storage: dg.ResourceDependency[LakeStorage]

    def create_io_manager(self, context) -> ParquetUPathIOManager:
        return ParquetUPathIOManager(self.storage)
