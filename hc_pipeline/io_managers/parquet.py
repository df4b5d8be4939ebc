"""Parquet files on a UPath: `lake/<domain>/<asset>/<partition>.parquet`, local or on S3."""

import io

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from hc_pipeline.resources.storage import LakeStorage


class ParquetUPathIOManager(dg.UPathIOManager):
    """Writes each DataFrame output as one parquet file and reads it back unchanged."""

    extension = ".parquet"

    def __init__(self, storage: LakeStorage):
        super().__init__(base_path=storage.path("lake"))
        self._storage = storage
        # Frames this run wrote, by path: the next step of the same process takes the frame itself instead
        # of reading and decoding the file again (one instance per run; a step in another process reads).
        self._written: dict[str, pd.DataFrame] = {}

    def get_asset_relative_path(self, context) -> UPath:
        # Unpartitioned tables get a folder too, so every table has one LOCATION.
        path = UPath(*context.asset_key.path)
        return path if context.has_asset_partitions else path / "data"

    def partition_paths(self, context: dg.InputContext) -> dict[str, UPath]:
        """The parquet file of each partition an input covers, in this IO manager's layout."""
        folder = self._storage.path("lake").joinpath(*context.asset_key.path)
        paths = {key: self.get_path_for_partition(context, folder, key) for key in context.asset_partition_keys}
        return {key: path.with_suffix(path.suffix + self.extension) for key, path in paths.items()}

    def make_directory(self, path: UPath) -> None:
        # S3 has no folders; s3fs's mkdir would HEAD the bucket, which a prefix-scoped IAM policy refuses.
        if not self._storage.is_s3:
            super().make_directory(path)

    def dump_to_path(self, context: dg.OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        self.write_frame(path, obj)
        self._written[str(path)] = obj
        extra = self.after_write(context.asset_key, context.has_asset_partitions, path)
        if extra:
            context.add_output_metadata(extra)

    def write_frame(self, path: UPath, obj: pd.DataFrame) -> None:
        """One parquet file holding the frame."""
        # attrs (run context of the curation) do not belong in the file: pyarrow would warn on each date in them.
        plain = obj.copy(deep=False)
        plain.attrs = {}
        table = pa.Table.from_pandas(plain, preserve_index=False)
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        self._storage.write_bytes(path, buffer.getvalue())

    def after_write(self, asset_key: dg.AssetKey, partitioned: bool, path: UPath) -> dict:
        """What else a write brings into line (none here), as output metadata."""
        return {}

    def write_partition(self, asset_key: dg.AssetKey, partition_key: str, obj: pd.DataFrame) -> dict:
        """Store one partition's frame from a batch step, where it lands in an asset step; returns its metadata."""
        path = self._storage.path("lake", *asset_key.path, f"{partition_key}{self.extension}")
        self.make_directory(path.parent)
        self.write_frame(path, obj)
        return {"path": dg.MetadataValue.path(str(path)), **self.after_write(asset_key, True, path)}

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pd.DataFrame:
        written = self._written.pop(str(path), None)
        if written is not None:
            return written
        with path.open("rb") as handle:
            return pq.read_table(handle).to_pandas(types_mapper=_arrow_dtype_for)


def _arrow_dtype_for(arrow_type: pa.DataType):
    """Keep strings, lists, structs and maps Arrow-backed when reading back."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    if pa.types.is_list(arrow_type) or pa.types.is_struct(arrow_type) or pa.types.is_map(arrow_type):
        return pd.ArrowDtype(arrow_type)
    return None


class LakeParquetIOManager(dg.ConfigurableIOManagerFactory):
    """The lake: parquet under the storage root's `lake/` zone."""

    storage: dg.ResourceDependency[LakeStorage]

    def create_io_manager(self, context) -> ParquetUPathIOManager:
        return ParquetUPathIOManager(self.storage)
