"""The `hc-pipeline` command: generate, ingest, run, retry, query, review, report, demo."""

import argparse
import datetime as dt
import gc
import json
import logging
import signal
import sys
from pathlib import Path

# Only the Dagster-free stores here: `ingest`, `query` and `--help` must not pay for importing Dagster.
from hc_pipeline.home_lock import HomeBusy
from hc_pipeline.stores.landed import DOMAINS
from hc_pipeline.stores.outage import StoreUnavailable, outage_of


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
        patient_files=args.patient_files,
    )
    print(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_ingest(args) -> int:
    from hc_pipeline.ingest import ingest, problems
    from hc_pipeline.stores.environment import landing_from_env

    bad = problems(args.domain, args.files)
    if bad:
        for line in bad:
            print(f"hc-pipeline ingest: {line}", file=sys.stderr)
        print("hc-pipeline ingest: nothing landed", file=sys.stderr)
        return 2
    for line in ingest(args.domain, args.files, landing_from_env()):
        print(line)
    return 0


def _notifications_to_stdout() -> None:
    """The log notifier's messages are this command's output, not errors: print them on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("notification: %(message)s"))
    notifier_log = logging.getLogger("hc_pipeline.notifier")
    notifier_log.addHandler(handler)
    notifier_log.propagate = False


def cmd_run(args) -> int:
    from hc_pipeline.home_lock import exclusive_home
    from hc_pipeline.runner import RunInterrupted, instance_for, run_pending
    from hc_pipeline.stores.environment import hc_home

    _notifications_to_stdout()
    home = hc_home()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a container stop ends `run` like Ctrl-C
    try:
        # One writer per HC_HOME: the instance's schema is created and runs are planned under the lock.
        with exclusive_home(home, wait_seconds=args.wait):
            defs, instance = _defs(), instance_for(home)
            # What is loaded so far lives as long as the command: the collector need not rescan it with every
            # generation-2 pass the files' work sets off (0.15 s of 1M rows, 0.8 s of 100 small files).
            gc.freeze()
            summary = run_pending(defs, instance, args.as_of, args.horizon_days, progress=sys.stdout)
    except RunInterrupted as stopped:
        print(f"hc-pipeline run: {stopped}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("hc-pipeline run: interrupted; unfinished files stay pending", file=sys.stderr)
        return 130
    if summary.abandoned_runs:
        print(f"marked {summary.abandoned_runs} run(s) left unfinished by an earlier process as failed")
    for domain, keys in summary.processed.items():
        print(f"{domain}: processed {len(keys)} new file(s)")
    for source_file, checks in summary.failed_checks.items():
        print(f"checks failed: {source_file}: {', '.join(checks)}")
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
    for failed in summary.failed:
        print(f"run failed (retried on the next run): {failed}", file=sys.stderr)
    for failed in (f for o in summary.decisions.values() for f in o.failed):
        print(f"run failed (internal error): {failed}", file=sys.stderr)
    for gave_up in summary.gave_up:
        print(gave_up, file=sys.stderr)
    for failed in summary.reports_failed:
        print(failed, file=sys.stderr)
    if summary.reports_refreshed:
        print("reports refreshed: " + ", ".join(summary.reports_refreshed))
    decisions_failed = any(o.failed for o in summary.decisions.values())
    return 1 if summary.failed or summary.gave_up or summary.reports_failed or decisions_failed else 0


def cmd_retry(args) -> int:
    from hc_pipeline.home_lock import exclusive_home
    from hc_pipeline.runner import instance_for
    from hc_pipeline.steward_retry import NotGivenUp, retry
    from hc_pipeline.stores.environment import hc_home

    home = hc_home()
    try:
        with exclusive_home(home, wait_seconds=args.wait):  # `run` plans under this lock: never half a retry
            done = retry(instance_for(home), _defs().resources["landing"], args.key, args.domain)
    except NotGivenUp as refused:
        print(f"hc-pipeline retry: {refused}", file=sys.stderr)
        return 2
    print(done)
    return 0


def cmd_query(args) -> int:
    from hc_pipeline.lake_query import QueryRefused, run_query, write_rows

    try:
        columns, rows = run_query(args.sql)
    except QueryRefused as refused:
        print(f"hc-pipeline query: {refused}", file=sys.stderr)
        return 2
    write_rows(columns, rows, args.format, sys.stdout)
    return 0


def cmd_report(args) -> int:
    from hc_pipeline.quality.figures import domain_quality
    from hc_pipeline.quality.render import render

    engine = _defs().resources["query_engine"]
    for domain in args.domains or DOMAINS:
        path = Path(args.out_dir) / domain / "index.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        quality = domain_quality(engine, domain)
        path.write_text(render(quality), encoding="utf-8")
        print(f"{domain}: {len(quality.files)} file(s) -> {path}")
    return 0


def cmd_review_export(args) -> int:
    from hc_pipeline.review.commands import export_open_exceptions

    return export_open_exceptions(args.domain, Path(args.out), args.file)


def cmd_review_apply(args) -> int:
    from hc_pipeline.review.commands import apply_decisions

    return apply_decisions(args.domain, Path(args.file), args.reviewer)


def cmd_demo(args) -> int:
    from hc_pipeline.demo import run_demo

    _notifications_to_stdout()
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
    generate.add_argument("--patient-files", type=int, default=2, help="split the patients over N CSV files")
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
    run.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait while another run holds HC_HOME (default: exit 3)"
    )
    run.set_defaults(func=cmd_run)

    retry = commands.add_parser("retry", help="give a landed file that gave up fresh attempts on the next run")
    retry.add_argument("key", help="the landed object's key, e.g. patients/admissions.csv")
    retry.add_argument("--domain", choices=DOMAINS, default=None, help="the domain, when KEY is given without it")
    retry.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait while a run holds HC_HOME (default: exit 3)"
    )
    retry.set_defaults(func=cmd_retry)

    query = commands.add_parser("query", help="run Athena-dialect SQL over the lake tables")
    query.add_argument("sql")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.set_defaults(func=cmd_query)

    report = commands.add_parser("report", help="write the HTML quality report of each domain to OUT_DIR/<domain>/")
    report.add_argument("out_dir")
    report.add_argument("--domain", dest="domains", action="append", choices=DOMAINS, help="only this domain")
    report.set_defaults(func=cmd_report)

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
    try:
        return args.func(args)
    except HomeBusy as busy:  # `run` and `retry`: one writer per HC_HOME
        print(
            f"hc-pipeline {args.command}: {busy}; nothing done, try again when it ends (or pass --wait SECONDS)",
            file=sys.stderr,
        )
        return 3
    except StoreUnavailable as outage:
        print(f"hc-pipeline {args.command}: {outage}", file=sys.stderr)
        return 4
    except Exception as error:  # any command: a full disk, a missing bucket, an unreachable endpoint is one line
        outage = outage_of(error)
        if outage is None:
            raise
        from hc_pipeline.stores.environment import store_label

        print(f"hc-pipeline {args.command}: {outage.line(store_label())}", file=sys.stderr)
        return 4


if __name__ == "__main__":
    sys.exit(main())
