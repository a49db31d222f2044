import gc

from data_platform.memory import gc_paused, release_memory, without_gc


def test_gc_paused_restores_the_collector_and_nests():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause stays in force
    assert gc.isenabled()


def test_without_gc_restores_the_collector_after_an_error():
    @without_gc
    def fails():
        assert not gc.isenabled()
        raise ValueError("boom")

    try:
        fails()
    except ValueError:
        pass
    assert gc.isenabled()


def test_a_cycle_made_while_paused_is_collected_after():
    import weakref

    class Node:
        pass

    with gc_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b
        assert alive() is not None  # only the collector frees a cycle
    release_memory()
    assert alive() is None
