"""Hand the memory a finished run freed back to the system before the next run allocates its own."""

import ctypes
import gc
import sys


def release_freed_memory() -> None:
    """Collect the finished run's reference cycles, then return the pages Arrow and malloc keep for reuse."""
    gc.collect()
    import pyarrow

    pyarrow.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        # DuckDB allocates through its own allocator: pages glibc keeps after a large file would only add up.
        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only
        if trim is not None:
            trim(0)
