"""The stewards' loop in Dagster: each landed decisions file is a partition of `<domain>/decisions`, judged whole."""

import warnings

import dagster as dg
import pandas as pd

from hc_pipeline.assets.landed import landed_object
from hc_pipeline.assets.retries import retried
from hc_pipeline.checks.builders import spec
from hc_pipeline.partitions import DOMAINS
from hc_pipeline.resources.landing import LandingZone
from hc_pipeline.resources.storage import LakeStorage
from hc_pipeline.review.decisions import (
    KNOWN_COLUMNS,
    LEDGER_COLUMNS,
    DecisionsFile,
    judge_with_state,
    ledger_rows,
    problems_markdown,
    read_decisions,
)
from hc_pipeline.review.lake import read_parquet_folder
from hc_pipeline.review.landing import decisions_prefix

decisions_partitions = {d: dg.DynamicPartitionsDefinition(name=f"{d}_decisions") for d in DOMAINS}


def read_lake_table(storage: LakeStorage, domain: str, asset: str, columns: list[str]) -> pd.DataFrame:
    """Every partition file of one lake table, read straight from the lake."""
    return read_parquet_folder(storage.path("lake", domain, asset), columns)


def decisions_valid_spec(key: dg.AssetKey, partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    """The blocking check on one decisions file, recorded against that file's partition."""
    base = spec(
        key,
        "decisions_valid",
        "Every decided line names an open exception of this domain, says correct, accept or reject, "
        "carries a note where one is required and readable values. One bad line refuses the whole file: "
        "nothing of it is applied. Fix the lines named in `problems` and apply the file again.",
        "conformance",
        blocking=True,
    )
    with warnings.catch_warnings():  # per-partition check results are a preview API in Dagster 1.13, used on purpose
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            base.name,
            asset=key,
            description=base.description,
            blocking=True,
            metadata=base.metadata,
            partitions_def=partitions,
        )


def decisions_asset(domain: str):
    """`<domain>/decisions`: one partition per decisions file under `landing/_decisions/<domain>/`."""
    key = dg.AssetKey([domain, "decisions"])

    @dg.asset(
        key=key,
        group_name=domain,
        partitions_def=decisions_partitions[domain],
        description=f"The decided lines of one steward decisions file (landing/{decisions_prefix(domain)}/), "
        "as the ledger the per-file curation applies: correct, accept or reject per exception.",
        check_specs=[decisions_valid_spec(key, decisions_partitions[domain])],
    )
    @retried
    def decisions(context: dg.AssetExecutionContext, landing: LandingZone, storage: LakeStorage):
        obj = landed_object(context, f"{domain}_decisions", storage)
        parsed = read_decisions(landing.read_bytes(obj.key, obj.version))
        judged, affected = judge_against_lake(parsed, storage, domain, obj.key)
        decided_at = pd.Timestamp(obj.last_modified, unit="s").floor("us")
        ledger = ledger_rows(judged if judged.valid else DecisionsFile(judged.lines.iloc[0:0], []), obj.key, decided_at)
        counts = ledger["decision"].value_counts()
        if not judged.valid:
            context.log.warning(
                f"{obj.key}: decisions file refused whole, nothing applied: "
                + "; ".join(str(p) for p in judged.problems[:5])
            )
        yield dg.Output(
            ledger,
            metadata={
                "dagster/row_count": len(ledger),
                "decisions_file": obj.key,
                "refused": not judged.valid,
                **{f"decisions/{word}": int(counts.get(word, 0)) for word in ("correct", "accept", "reject")},
                "affected_partitions": dg.MetadataValue.json(affected if judged.valid else []),
            },
        )
        yield dg.AssetCheckResult(
            check_name="decisions_valid",
            passed=judged.valid,
            metadata={
                "decisions_file": obj.key,
                "problem_count": len(judged.problems),
                "problems": dg.MetadataValue.md(problems_markdown(judged.problems)),
                "problem_lines": dg.MetadataValue.text("\n".join(str(p) for p in judged.problems[:50])),
            },
        )

    return decisions


def judge_against_lake(
    parsed: DecisionsFile, storage: LakeStorage, domain: str, decisions_file: str
) -> tuple[DecisionsFile, list[str]]:
    """Judge a decisions file against the exceptions and earlier decisions as the lake holds them."""
    return judge_with_state(
        parsed,
        read_lake_table(storage, domain, "exceptions", KNOWN_COLUMNS),
        read_lake_table(storage, domain, "decisions", LEDGER_COLUMNS),
        decisions_file,
        domain,
    )


def affected_partitions(materialization: dg.AssetMaterialization) -> list[str]:
    """The file partitions a decisions materialization asks to re-curate (none when it was refused)."""
    value = materialization.metadata.get("affected_partitions")
    return list(value.value) if value is not None else []


def problem_lines(evaluation) -> list[str]:
    """The refused lines recorded by a failed `decisions_valid` check."""
    value = evaluation.metadata.get("problem_lines")
    return [line for line in (value.value if value is not None else "").splitlines() if line]


decisions = {domain: decisions_asset(domain) for domain in DOMAINS}
assets = list(decisions.values())
