"""The `hc-pipeline` command: generate, ingest, run, query, review, demo."""

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from hc_pipeline.partitions import DOMAINS


def _defs():
    from hc_pipeline.definitions import defs  # imported late: Dagster's import costs seconds

    return defs


def cmd_generate(args) -> int:
    from hc_pipeline.generate.writer import generate

    summary = generate(
        Path(args.out),
        patients=args.patients,
        facilities=args.facilities,
        defect_rate=args.defect_rate,
        seed=args.seed,
        run_date=args.run_date,
        synthea_patients=args.synthea,
    )
    print(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_ingest(args) -> int:
    landing = _defs().resources["landing"]
    for name in args.files:
        path = Path(name)
        obj = landing.put(f"{args.domain}/{path.name}", path.read_bytes())
        print(f"landed {obj.key} ({obj.size} bytes) -> {landing.uri(obj.key)}")
    return 0


def cmd_run(args) -> int:
    from hc_pipeline.deployment import hc_home
    from hc_pipeline.runner import instance_for, run_pending

    summary = run_pending(_defs(), instance_for(hc_home()), args.as_of, args.horizon_days)
    for domain, keys in summary.processed.items():
        print(f"{domain}: processed {len(keys)} new file(s)")
    for stopped in summary.stopped_by_checks:
        print(f"stopped by a blocking check (file quarantined or rules broken): {stopped}")
    for domain, outcome in summary.decisions.items():
        if outcome.applied or outcome.refused:
            print(
                f"{domain}: applied {len(outcome.applied)} decisions file(s), re-curated {len(outcome.recurated)} file(s)"
            )
        for key, problems in outcome.refused.items():
            print(f"decisions file refused whole, nothing applied: {key}")
            for problem in problems:
                print(f"  {problem}")
    for failed in summary.failed + [f for o in summary.decisions.values() for f in o.failed]:
        print(f"run failed (internal error): {failed}", file=sys.stderr)
    if summary.reports_refreshed:
        print("reports refreshed: " + ", ".join(summary.reports_refreshed))
    return 1 if summary.failed or any(o.failed for o in summary.decisions.values()) else 0


def cmd_query(args) -> int:
    engine = _defs().resources["query_engine"]
    try:
        frame = engine.query(args.sql)
    except Exception as error:  # the engine's own message names the table or column at fault
        print(f"hc-pipeline query: {type(error).__name__}: {error}", file=sys.stderr)
        print(f"tables: {', '.join(engine.tables()) or '(none yet: run `hc-pipeline run`)'}", file=sys.stderr)
        return 2
    if args.format == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        print(frame.to_json(orient="records", date_format="iso", indent=2))
    else:
        print(frame.to_string(index=False) if len(frame) else "(no rows)")
    return 0


def cmd_review_export(args) -> int:
    from hc_pipeline.review.commands import export_open_exceptions

    return export_open_exceptions(args.domain, Path(args.out), args.file)


def cmd_review_apply(args) -> int:
    from hc_pipeline.review.commands import apply_decisions

    return apply_decisions(args.domain, Path(args.file), args.reviewer)


def cmd_demo(args) -> int:
    from hc_pipeline.demo import run_demo

    return run_demo(patients=args.patients, facilities=args.facilities, seed=args.seed)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="hc-pipeline", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write sample files and the ground truth of injected defects")
    generate.add_argument("out")
    generate.add_argument("--patients", type=int, default=10_000)
    generate.add_argument("--facilities", type=int, default=200)
    generate.add_argument("--defect-rate", type=float, default=0.05)
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--run-date", type=_date, default=None, help="the date defects are relative to (today)")
    generate.add_argument("--synthea", type=int, default=0, help="also write a Synthea export zip of N patients")
    generate.set_defaults(func=cmd_generate)

    ingest = commands.add_parser("ingest", help="put files into the landing zone")
    ingest.add_argument("domain", choices=DOMAINS)
    ingest.add_argument("files", nargs="+")
    ingest.set_defaults(func=cmd_ingest)

    run = commands.add_parser("run", help="process every landed file not yet processed, then refresh reports")
    run.add_argument("--as-of", type=_date, default=None, help="run date for the rules and reports (today)")
    run.add_argument("--horizon-days", type=int, default=None)
    run.set_defaults(func=cmd_run)

    query = commands.add_parser("query", help="run Athena-dialect SQL over the lake tables")
    query.add_argument("sql")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.set_defaults(func=cmd_query)

    review = commands.add_parser("review", help="stewards' loop: export open exceptions, apply decisions")
    steps = review.add_subparsers(dest="step", required=True)
    export = steps.add_parser("export", help="write the open exceptions as a CSV to fill in")
    export.add_argument("domain", choices=DOMAINS)
    export.add_argument("out")
    export.add_argument("--file", default=None, help="only this source_file, e.g. patients/admissions.csv")
    export.set_defaults(func=cmd_review_export)
    apply = steps.add_parser("apply", help="land a filled-in decisions CSV; the next run applies it")
    apply.add_argument("domain", choices=DOMAINS)
    apply.add_argument("file")
    apply.add_argument("--reviewer", required=True, help="who decided (recorded with every decision)")
    apply.set_defaults(func=cmd_review_apply)

    demo = commands.add_parser("demo", help="generate, land and process sample data; print a summary")
    demo.add_argument("--patients", type=int, default=12_000)
    demo.add_argument("--facilities", type=int, default=300)
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
