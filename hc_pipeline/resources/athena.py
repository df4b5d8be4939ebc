"""Athena as the query engine resource: its settings in the UI, the work in `hc_pipeline.stores.athena`."""

import dataclasses

import pandas as pd
from pydantic import Field, PrivateAttr

from hc_pipeline.resources.query_engine import QueryEngine
from hc_pipeline.stores.athena import AthenaClient, AthenaQueryError, AthenaQueryTimeout, CatalogTable
from hc_pipeline.stores.query_stats import QueryStats

__all__ = ["AthenaQueryEngine", "AthenaQueryError", "AthenaQueryTimeout", "CatalogTable"]


class AthenaQueryEngine(QueryEngine):
    """Amazon Athena over the Glue database that holds one external table per lake asset."""

    region_name: str | None = Field(default=None, description="AWS region; None = the standard chain.")
    endpoint_url: str | None = Field(default=None, description="Endpoint for Athena and Glue (moto); None = AWS.")
    database: str = Field(default="hc_pipeline", description="Glue database holding the `<domain>_<asset>` tables.")
    workgroup: str = Field(default="primary", description="Athena workgroup the queries run (and are billed) in.")
    output_location: str | None = Field(
        default=None, description="s3://... for result files; None = the workgroup's own result location."
    )
    poll_interval_seconds: float = Field(default=0.25, description="First wait between status polls.")
    max_poll_interval_seconds: float = Field(default=5.0, description="Longest wait between status polls.")
    timeout_seconds: float = Field(default=600.0, description="Stop the query and fail after this long.")

    _client: AthenaClient | None = PrivateAttr(default=None)

    @property
    def client(self) -> AthenaClient:
        """The Dagster-free client, shared with `hc-pipeline query`."""
        if self._client is None:
            settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(AthenaClient) if f.name[0] != "_"}
            self._client = AthenaClient(**settings)
        return self._client

    def query(self, sql: str) -> pd.DataFrame:
        return self.client.query(sql)

    def query_with_stats(self, sql: str) -> tuple[pd.DataFrame, QueryStats]:
        return self.client.query_with_stats(sql)

    def tables(self) -> list[str]:
        return self.client.tables()

    def catalog_table(self, table: str) -> CatalogTable | None:
        """The Glue catalog's columns and LOCATION of one table, or None if it does not exist."""
        return self.client.catalog_table(table)
