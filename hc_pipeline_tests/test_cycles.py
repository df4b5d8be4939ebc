"""The cycle collector is paused only inside the block, and runs again after it however the block ends."""

import gc

import pytest

from hc_pipeline.cycles import collector_paused


def test_the_collector_is_paused_in_the_block_and_running_after_it_even_on_an_error():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("bad record")
    assert gc.isenabled()


def test_a_nested_block_leaves_the_outer_one_paused_and_a_paused_caller_stays_paused():
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
