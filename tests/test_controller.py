"""The loop's own bookkeeping around a plan (the plan itself: test_frontier, solver/, test_cli)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from setpoint import controller
from tests.conftest import NOW


@pytest.mark.parametrize("enabled", [True, False])
def test_a_plan_pauses_the_cyclic_collector_and_leaves_it_as_it_was(quickstart: Path, monkeypatch,
                                                                    enabled: bool) -> None:
    seen = []
    planned = controller._planned

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return planned(*args, **kwargs)

    monkeypatch.setattr(controller, "_planned", spy)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        out = controller.plan(quickstart, now=NOW, record=False)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [False]
    assert out.summary["daily_totals"]["missing"] == 14


def test_a_plan_freezes_what_it_left_and_the_next_plan_lets_it_go(quickstart: Path) -> None:
    """The objects a plan left alive are out of the collector's reach until the next plan; a freeze the
    process had made itself is left as it is."""
    assert gc.isenabled()
    try:
        controller.plan(quickstart, now=NOW, record=False)
        first = gc.get_freeze_count()
        assert first > 0 and controller._frozen
        unfrozen = []
        real = gc.unfreeze

        def spy() -> None:
            unfrozen.append(gc.get_freeze_count())
            real()

        gc.unfreeze = spy
        try:
            controller.plan(quickstart, now=NOW, record=False)
        finally:
            gc.unfreeze = real
        assert unfrozen and unfrozen[0] <= first  # the first plan's objects, let go before the second plan
        assert gc.get_freeze_count() > 0 and controller._frozen
    finally:
        controller._unfreeze()
    assert gc.get_freeze_count() == 0
    gc.freeze()  # the process's own freeze
    try:
        mine = gc.get_freeze_count()
        controller.plan(quickstart, now=NOW, record=False)
        controller.plan(quickstart, now=NOW, record=False)
        assert gc.get_freeze_count() <= mine and not controller._frozen  # it froze nothing more
    finally:
        gc.unfreeze()


def test_garbage_cycles_a_plan_froze_are_freed_by_the_next_plan(quickstart: Path) -> None:
    """Cycles still uncollected when a plan ends are frozen with it; the next plan lets them go and collects."""
    import weakref

    class Node:
        pass

    def cycles() -> list[weakref.ref]:
        refs = []
        for _ in range(50):
            a, b = Node(), Node()
            a.other, b.other = b, a
            refs.append(weakref.ref(a))
        return refs

    try:
        gc.disable()  # nothing collects them before the plan freezes what is alive
        first = cycles()
        gc.enable()
        controller.plan(quickstart, now=NOW, record=False)
        controller.plan(quickstart, now=NOW, record=False)
        gc.collect()
        assert sum(r() is not None for r in first) == 0
    finally:
        gc.enable()
        controller._unfreeze()


def test_a_lazy_plan_pickles_with_its_statuses(quickstart: Path) -> None:
    import pickle

    out = controller.plan(quickstart, now=NOW, record=False)
    again = pickle.loads(pickle.dumps(out))
    assert again.statuses == out.statuses and len(again.statuses) == 15
    assert (out.statuses + [])[0] == out.statuses[0]
