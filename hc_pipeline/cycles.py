"""The cycle collector paused while a batch of records becomes Python objects."""

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block; reference counts still free everything it drops.

    Parsed JSON values are trees, never cycles, and a batch makes millions of them: the collector kept rescanning
    them as they piled up, half the time of staging 100,000 facility records.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
