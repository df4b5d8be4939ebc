"""Apply landed decisions files in the order they landed: judge each whole, then re-curate the files it touches."""

from dataclasses import dataclass, field

import dagster as dg

from hc_pipeline.assets.review import affected_partitions, decisions, decisions_partitions, problem_lines
from hc_pipeline.partitions import partition_key_for
from hc_pipeline.planner import BY_RUN, run_tags
from hc_pipeline.resources.landing import LandingZone
from hc_pipeline.review.landing import decisions_prefix, partition_name


@dataclass
class DecisionsOutcome:
    """What one pass over a domain's new decisions files did."""

    applied: list[str] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)
    recurated: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def apply_pending_decisions(
    domain: str,
    per_file: list[dg.AssetsDefinition],
    instance: dg.DagsterInstance,
    resources: dict,
    run_config: dict,
) -> DecisionsOutcome:
    """Each new decisions file: its `decisions` partition (blocking validity check), then the files it decides."""
    landing: LandingZone = resources["landing"]
    partitions = decisions_partitions[domain]
    known = set(instance.get_dynamic_partitions(partitions.name))
    rerun = [k for a in per_file for k in a.keys if k.path[-1] != "raw_records"]
    outcome = DecisionsOutcome()
    for obj in sorted(landing.list_objects(decisions_prefix(domain)), key=lambda o: (o.last_modified, o.key)):
        key = partition_key_for(partition_name(obj.key), obj.version)
        if key in known:
            continue
        instance.add_dynamic_partitions(partitions.name, [key])
        known.add(key)
        judged = dg.materialize(
            [decisions[domain]],
            partition_key=key,
            instance=instance,
            resources=resources,
            tags={**run_tags(obj), "dagster/run_key": obj.run_key, **BY_RUN},
            raise_on_error=False,
        )
        failed_checks = [e for e in judged.get_asset_check_evaluations() if not e.passed]
        if failed_checks:
            outcome.refused[obj.key] = problem_lines(failed_checks[0])
            continue
        if not judged.success:
            outcome.failed.append(f"{obj.key} ({key})")
            continue
        outcome.applied.append(obj.key)
        materialization = judged.get_asset_materialization_events()[0].event_specific_data.materialization
        for partition in affected_partitions(materialization):
            result = dg.materialize(
                per_file,
                selection=rerun,
                partition_key=partition,
                instance=instance,
                resources=resources,
                tags={"hc/decisions_file": obj.key, **BY_RUN},
                run_config=run_config,
                raise_on_error=False,
            )
            (outcome.recurated if result.success else outcome.failed).append(partition)
    return outcome
