"""One job per domain that processes one landed file (one partition) through its per-file assets."""

import dagster as dg

from hc_pipeline.partitions import files_partitions


def file_job(domain: str, assets):
    """The per-file assets of `domain` (and their checks) for one partition."""
    return dg.define_asset_job(
        name=f"{domain}_file_job",
        selection=dg.AssetSelection.assets(*assets),
        partitions_def=files_partitions[domain],
        description=f"Process one landed {domain} file.",
        # The steps of one file run one after another; a process per step would only add imports.
        executor_def=dg.in_process_executor,
    )
