"""The one planner the sensors and `hc-pipeline run` share, and how a run tells bad data from a crash."""

import dagster as dg

from hc_pipeline.partitions import files_partitions, partition_key_for
from hc_pipeline.planner import (
    FAILED,
    GAVE_UP,
    INTERRUPTED,
    KEY_TAG,
    MAX_ATTEMPTS,
    OUTCOME_TAG,
    REASON_TAG,
    RUN_KEY_TAG,
    SET_ASIDE_TAG,
    STOPPED_BY_CHECKS,
    VERSION_RUN_KEY_TAG,
    FileRun,
    plan_launches,
)
from hc_pipeline.resources.landing import LandedObject
from hc_pipeline.runner import stopped_by_checks

A = LandedObject("patients/a.csv", "v1", 100.0, 10)
B = LandedObject("patients/b b.csv", "v2", 101.0, 20)


def test_plan_has_one_run_per_version_in_the_given_order_with_key_partition_and_tags(instance):
    plan = plan_launches("patients", [B, A], instance)
    assert [run.obj for run in plan.runs] == [B, A]
    assert plan.partition_keys == [partition_key_for(B.key, B.version), partition_key_for(A.key, A.version)]
    run = plan.runs[0]
    assert run.tags[RUN_KEY_TAG] == run.run_key == "patients/b b.csv@v2" and run.tags[KEY_TAG] == B.key
    request = run.run_request()
    assert (request.run_key, request.partition_key) == (run.run_key, run.partition_key)
    assert plan.add_partitions_request().partition_keys == plan.partition_keys


def test_versions_a_run_already_carries_are_left_out(instance):
    @dg.asset
    def done():
        return 1

    dg.materialize([done], instance=instance, tags={RUN_KEY_TAG: A.run_key})
    plan = plan_launches("patients", [A, B], instance)
    assert [run.obj for run in plan.runs] == [B]


def test_add_partitions_adds_only_the_missing_keys(instance):
    plan = plan_launches("patients", [A, B], instance)
    instance.add_dynamic_partitions(files_partitions["patients"].name, [plan.partition_keys[0]])
    plan.add_partitions(instance)
    assert sorted(instance.get_dynamic_partitions(files_partitions["patients"].name)) == sorted(plan.partition_keys)


def _run(asset, instance) -> dg.ExecuteInProcessResult:
    return dg.materialize([asset], instance=instance, raise_on_error=False)


def test_a_failing_blocking_check_is_bad_data_not_a_crash(instance):
    @dg.asset(check_specs=[dg.AssetCheckSpec("readable", asset="guarded", blocking=True)])
    def guarded():
        yield dg.Output(1)
        yield dg.AssetCheckResult(check_name="readable", passed=False)

    result = _run(guarded, instance)
    assert not result.success and stopped_by_checks(result)


def test_an_exception_is_a_crash_even_beside_a_failing_check(instance):
    @dg.asset(check_specs=[dg.AssetCheckSpec("readable", asset="broken")])
    def broken():
        yield dg.Output(1)
        yield dg.AssetCheckResult(check_name="readable", passed=False)
        raise RuntimeError("disk on fire")

    result = _run(broken, instance)
    assert not result.success and not stopped_by_checks(result)


def _attempt(instance, run: FileRun, succeed: bool = False, tags: dict | None = None) -> dg.ExecuteInProcessResult:
    @dg.asset(name="attempt")
    def attempt():
        if not succeed:
            raise OSError("disk full")
        return 1

    result = _run_tagged(attempt, instance, run.tags)
    if tags:
        instance.add_run_tags(result.run_id, tags)
    return result


def _run_tagged(asset, instance, tags) -> dg.ExecuteInProcessResult:
    return dg.materialize([asset], instance=instance, tags=tags, raise_on_error=False)


def test_a_version_whose_run_failed_is_pending_again_under_a_new_run_key_and_the_same_version_tag(instance):
    [first] = plan_launches("patients", [A], instance).runs
    _attempt(instance, first)
    [retry] = plan_launches("patients", [A], instance).runs
    assert retry.attempt == 2 and retry.run_key == f"{A.run_key}#2"
    assert retry.tags[VERSION_RUN_KEY_TAG] == retry.run_request().tags[VERSION_RUN_KEY_TAG] == A.run_key
    _attempt(instance, retry, succeed=True)
    assert plan_launches("patients", [A], instance).runs == ()


def test_after_max_attempts_a_version_is_given_up_with_the_last_reason(instance):
    for _ in range(MAX_ATTEMPTS):
        [run] = plan_launches("patients", [A], instance).runs
        _attempt(instance, run, tags={REASON_TAG: f"attempt {run.attempt}: disk full"})
    plan = plan_launches("patients", [A, B], instance)
    assert [run.obj for run in plan.runs] == [B]
    [gave_up] = plan.gave_up
    assert str(gave_up) == f"{A.key}: gave up after {MAX_ATTEMPTS} attempts: attempt {MAX_ATTEMPTS}: disk full"


def test_runs_an_operator_stopped_do_not_count_as_attempts(instance):
    for _ in range(MAX_ATTEMPTS + 1):
        [run] = plan_launches("patients", [A], instance).runs
        _attempt(instance, run, tags={REASON_TAG: INTERRUPTED})
    plan = plan_launches("patients", [A], instance)
    assert plan.gave_up == () and [run.attempt for run in plan.runs] == [MAX_ATTEMPTS + 2]


def test_a_run_stopped_by_a_blocking_check_settles_its_version(instance):
    [run] = plan_launches("patients", [A], instance).runs
    _attempt(instance, run, tags={OUTCOME_TAG: STOPPED_BY_CHECKS})
    plan = plan_launches("patients", [A], instance)
    assert plan.runs == () and plan.gave_up == ()


def _give_up(instance, obj: LandedObject) -> list[FileRun]:
    runs = []
    for _ in range(MAX_ATTEMPTS):
        [run] = plan_launches("patients", [obj], instance).runs
        _attempt(instance, run, tags={REASON_TAG: f"attempt {run.attempt}: disk full"})
        runs.append(run)
    return runs


def test_giving_up_tags_the_last_failed_run_gave_up_once(instance):
    _give_up(instance, A)
    plan_launches("patients", [A], instance)
    outcomes = [run.tags.get(OUTCOME_TAG) for run in instance.get_runs()]  # newest first
    assert outcomes == [GAVE_UP] + [FAILED] * (MAX_ATTEMPTS - 1)


def test_set_aside_runs_no_longer_count_but_attempt_numbers_go_on(instance):
    first = _give_up(instance, A)
    for run in instance.get_runs():
        instance.add_run_tags(run.run_id, {SET_ASIDE_TAG: "2026-01-01T00:00:00+00:00"})
    retried = []
    for _ in range(MAX_ATTEMPTS):
        [run] = plan_launches("patients", [A], instance).runs
        _attempt(instance, run)
        retried.append(run)
    assert [r.attempt for r in first + retried] == list(range(1, 2 * MAX_ATTEMPTS + 1))
    assert len({r.run_key for r in first + retried}) == 2 * MAX_ATTEMPTS
    [gave_up] = plan_launches("patients", [A], instance).gave_up
    assert gave_up.attempts == MAX_ATTEMPTS


def test_the_next_attempt_follows_the_highest_run_key_even_when_runs_are_missing(instance):
    _attempt(instance, FileRun(A, attempt=5))  # attempts 1 to 4 deleted from the instance, say
    [after] = plan_launches("patients", [A], instance).runs
    assert after.run_key == f"{A.run_key}#6"
