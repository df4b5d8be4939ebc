"""The production shape for end-to-end runs: deploy/dagster.yaml on a test Postgres, an S3 -> SQS event queue."""

import threading
from collections import Counter
from pathlib import Path

import yaml

from bench.deployment import REPO, Deployment

PARTITION_SET_TAG = "dagster/partition_set"
HEADER = b"patient_id,age,gender,admission_date,discharge_date,diagnosis\n"
MATERIALIZATIONS = """query M($path: [String!]!, $limit: Int!) { assetOrError(assetKey: {path: $path}) {
  ... on Asset { assetMaterializations(limit: $limit) { partition runId } } } }"""
RUNS = """query Runs($job: String!) { runsOrError(filter: {pipelineName: $job}) { ... on Runs { results {
  runId status tags { key value } } } } }"""
IN_PROGRESS = """{ runsOrError(filter: {statuses: [STARTING, STARTED]}) { ... on Runs { results {
  runId tags { key value } } } } }"""


def small_file(i: int) -> bytes:
    """A distinct 5-row admissions CSV."""
    rows = [f"P{i}-{r},{20 + r},F,2024-01-0{1 + r},2024-01-0{3 + r},Flu\n".encode() for r in range(5)]
    return HEADER + b"".join(rows)


def production_instance_yaml(port: int, s3_endpoint: str, max_runs: int, per_partition_set: int) -> str:
    """deploy/dagster.yaml with the test's Postgres port, runs as local processes, compute logs on the S3 server."""
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    config["storage"]["postgres"]["postgres_db"]["port"] = port
    config.pop("run_launcher")  # ECS is not here: the default launcher starts each run as a local process
    config["compute_logs"]["config"]["endpoint_url"] = s3_endpoint
    coordinator = config["run_coordinator"]["config"]
    coordinator["max_concurrent_runs"] = max_runs
    [limit] = [x for x in coordinator["tag_concurrency_limits"] if x["key"] == PARTITION_SET_TAG]
    limit["limit"] = per_partition_set
    return yaml.safe_dump(config, sort_keys=False)


def notify_queue(s3, sqs, bucket: str, prefix: str, name: str) -> str:
    """A queue receiving the bucket's ObjectCreated notifications under `<prefix>/landing/`; its URL."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = {"Name": "prefix", "Value": f"{prefix}/landing/"}
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {"FilterRules": [rule]}}}
            ]
        },
    )
    return url


class InProgressSampler:
    """Counts runs in progress (STARTING or STARTED) through GraphQL, every `interval` seconds, until stopped."""

    def __init__(self, deployment: Deployment, interval: float = 0.5):
        self.deployment, self.interval = deployment, interval
        self.samples: list[tuple[int, int]] = []  # (runs in progress, most of one partition set)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "InProgressSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                runs = self.deployment.graphql(IN_PROGRESS)["runsOrError"]["results"]
            except Exception as error:  # a slow answer under load is a lost sample, not a failure
                self.errors.append(str(error))
                continue
            sets = Counter(t["value"] for r in runs for t in r["tags"] if t["key"] == PARTITION_SET_TAG)
            self.samples.append((len(runs), max(sets.values(), default=0)))

    @property
    def most_in_progress(self) -> int:
        return max((total for total, _ in self.samples), default=0)

    @property
    def most_of_one_partition_set(self) -> int:
        return max((one for _, one in self.samples), default=0)


def logs_mentioning(folder: Path, text: str) -> list[str]:
    """Lines of the *.log files under `folder` that contain `text`."""
    return [
        f"{path.name}: {line.strip()}"
        for path in sorted(folder.rglob("*.log"))
        for line in path.read_text(errors="replace").splitlines()
        if text in line
    ]


def curated_partitions(deployment: Deployment, limit: int) -> list[str]:
    """The partition of every patients/curated_records materialization (a file processed twice shows twice)."""
    answer = deployment.graphql(MATERIALIZATIONS, {"path": ["patients", "curated_records"], "limit": limit})
    return [m["partition"] for m in answer["assetOrError"]["assetMaterializations"]]


def patient_runs(deployment: Deployment) -> list[dict]:
    """Every run of the patients file job and batch job, with its status and tags."""
    jobs = ("patients_file_job", "patients_batch_job")
    return [run for job in jobs for run in deployment.graphql(RUNS, {"job": job})["runsOrError"]["results"]]


def all_ended(runs: list[dict]) -> bool:
    return all(run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in runs)


def files_per_run(runs: list[dict]) -> list[int]:
    """How many files each run took: a batch run's `hc/batch_files`, else one."""
    tags = [{t["key"]: t["value"] for t in run["tags"]} for run in runs]
    return [int(t.get("hc/batch_files", 1)) for t in tags]


FAILURES = """query Logs($runId: ID!) { logsForRun(runId: $runId) { ... on EventConnection { events {
  __typename ... on MessageEvent { message } ... on ExecutionStepFailureEvent { error { message } } } } } }"""


def failure_messages(deployment: Deployment, runs: list[dict]) -> dict[str, list[str]]:
    """What each failed run's step and run failure events say, by run id: for an assertion's message."""
    found = {}
    for run in (r for r in runs if r["status"] == "FAILURE"):
        events = deployment.graphql(FAILURES, {"runId": run["runId"]})["logsForRun"]["events"]
        found[run["runId"]] = [
            (e.get("error") or {}).get("message") or e.get("message", "")
            for e in events
            if e["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent")
        ]
    return found
