"""IO managers: parquet on a UPath (local folder or s3://)."""
