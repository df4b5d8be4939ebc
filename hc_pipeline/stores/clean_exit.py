"""Stop fsspec's IO thread at exit: a thread still running at shutdown keeps modules alive, and duckdb's
bindings then print "nanobind: leaked ..." screens that users read as a crash."""

import atexit
import functools


@functools.cache
def stop_fsspec_io_at_exit() -> None:
    """Register, once per process, the stop of fsspec's event loop thread (s3fs runs on it)."""
    atexit.register(_stop_fsspec_io)


def _stop_fsspec_io() -> None:
    import fsspec.asyn

    loop, thread = fsspec.asyn.loop[0], fsspec.asyn.iothread[0]
    if loop is None or thread is None or not thread.is_alive():
        return
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
