"""The structural columns every per-file table carries, documented once: where each row came from."""

import pandera.pandas as pa
from pandera.typing import Series

SOURCE_FILE = "The landed object's key relative to the landing zone, exactly as uploaded (find the file by it)."
SOURCE_ROW = "1-based data row (record) number in that file."


class FileRows(pa.DataFrameModel):
    """Columns of every per-file table."""

    source_file: Series[str] = pa.Field(description=SOURCE_FILE)
    source_row: Series[int] = pa.Field(ge=1, description=SOURCE_ROW)


class RawRows(FileRows):
    """Columns of `<domain>/raw_records` besides the landed values."""

    parse_error: Series[str] = pa.Field(
        nullable=True, description="Why the reader could not read this record as a whole (null when it could)."
    )


class QuarantinedRows(RawRows):
    """Columns of `<domain>/quarantined_records` besides the landed values."""

    reasons: Series[object] = pa.Field(
        description="Rule ids the row broke: at least one error rule (why it is quarantined), plus any warnings."
    )
