"""The dates a run judges by, one typed config shared by every asset that needs a date."""

import datetime as dt

import dagster as dg
from pydantic import Field


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class RunDates(dg.Config):
    """The date rules judge against, the date expiries are measured from, and how far ahead to look."""

    run_date: str | None = Field(
        default=None, description="YYYY-MM-DD rules such as future_admission judge against; blank = today (UTC)."
    )
    as_of: str | None = Field(default=None, description="YYYY-MM-DD expiries are measured from; blank = today (UTC).")
    horizon_days: int = Field(default=180, description="How many days ahead an accreditation counts as expiring.")

    @classmethod
    def for_run(cls, run_date: dt.date | None, horizon_days: int | None = None) -> "RunDates":
        """One date for the rules and the reports (`hc-pipeline run --as-of`), and the horizon if given."""
        day = run_date.isoformat() if run_date else None
        return cls(run_date=day, as_of=day, **({} if horizon_days is None else {"horizon_days": horizon_days}))

    def rules_date(self) -> dt.date:
        return dt.date.fromisoformat(self.run_date) if self.run_date else _today()

    def as_of_date(self) -> dt.date:
        return dt.date.fromisoformat(self.as_of) if self.as_of else _today()


def run_config(assets: list[dg.AssetsDefinition], dated: list[dg.AssetsDefinition], dates: RunDates) -> dg.RunConfig:
    """The run config giving `dates` to each of `assets` that is among the `dated` ones."""
    dated_ops = {asset.op.name for asset in dated}
    return dg.RunConfig(ops={a.op.name: dates for a in assets if a.op.name in dated_ops})
