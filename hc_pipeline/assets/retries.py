"""Step bodies ask for their retries explicitly, so an interrupt (SIGTERM/SIGINT) is never retried.

Dagster 1.13 turns an interrupt inside a step with a RetryPolicy into a retry, which keeps a stopped process running;
a step that raises `RetryRequested` itself is retried only for the exceptions it chose. A store outage (endpoint
down, disk full, ...) is not retried either: botocore has already retried it, and `run` stops on it.
"""

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator

import dagster as dg

from hc_pipeline.stores.outage import outage_of

IO_RETRY = dg.RetryPolicy(max_retries=3, delay=0.5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
NOT_RETRIED = (dg.Failure, dg.RetryRequested, dg.DagsterError)


def _retry_request(args: tuple, kwargs: dict) -> dg.RetryRequested:
    contexts = [a for a in (*args, *kwargs.values()) if isinstance(a, dg.AssetExecutionContext | dg.OpExecutionContext)]
    attempt = (contexts[0].retry_number if contexts else 0) + 1
    return dg.RetryRequested(max_retries=IO_RETRY.max_retries, seconds_to_wait=IO_RETRY.calculate_delay(attempt))


@contextlib.contextmanager
def _retry_on_error(args: tuple, kwargs: dict) -> Iterator[None]:
    """Turn an ordinary exception of the block into a retry request; control flow and store outages pass."""
    try:
        yield
    except NOT_RETRIED:
        raise
    except Exception as error:
        if outage_of(error):
            raise
        raise _retry_request(args, kwargs) from error


def retried(compute: Callable) -> Callable:
    """Wrap a step body: an exception (not an interrupt, not a Dagster control-flow error) requests a retry."""
    if inspect.isgeneratorfunction(compute):

        @functools.wraps(compute)
        def step_events(*args, **kwargs):
            with _retry_on_error(args, kwargs):
                yield from compute(*args, **kwargs)

        return step_events

    @functools.wraps(compute)
    def step(*args, **kwargs):
        with _retry_on_error(args, kwargs):
            return compute(*args, **kwargs)

    return step
