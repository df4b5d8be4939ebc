"""`<domain>/quality_report`: the HTML quality report at `insights/<domain>/index.html`, after each refresh."""

import dagster as dg

from hc_pipeline.assets.reports import REFRESH
from hc_pipeline.assets.retries import retried
from hc_pipeline.partitions import DOMAINS
from hc_pipeline.quality.figures import domain_quality
from hc_pipeline.quality.render import render
from hc_pipeline.resources.query_engine import QueryEngine
from hc_pipeline.resources.storage import LakeStorage


def quality_report_asset(domain: str) -> dg.AssetsDefinition:
    """The report of one domain, refreshed after new per-file data like the other reports."""

    @dg.asset(
        key=[domain, "quality_report"],
        group_name=domain,
        deps=[dg.AssetKey([domain, name]) for name in ("raw_records", "curated_records", "quarantined_records")],
        description=f"A self-contained HTML page on {domain} data quality for people who never open Dagster: files, "
        "check results, rows per rule, trends and open exceptions; counts only, no identifiers.",
        automation_condition=REFRESH,
    )
    @retried
    def quality_report(query_engine: QueryEngine, storage: LakeStorage) -> dg.MaterializeResult:
        quality = domain_quality(query_engine, domain)
        path = storage.write_bytes(storage.path("insights", domain, "index.html"), render(quality).encode("utf-8"))
        return dg.MaterializeResult(
            metadata={
                "report": dg.MetadataValue.path(str(path)),
                "files": len(quality.files),
                "files_with_failing_checks": sum(
                    1 for f in quality.files if not f.conserved or not all(r.passed for r in f.checks.values())
                ),
                "open_exceptions": sum(f.quarantined for f in quality.files),
            }
        )

    return quality_report


quality_reports = {domain: quality_report_asset(domain) for domain in DOMAINS}
