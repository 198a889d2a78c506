"""The store's handling of CPython's collector: full collections paused while a build runs, and
large configurations kept out of full collections with a bound on what freezing may hold."""

from __future__ import annotations

import gc

import pytest

from mockstatus.limits import FREEZE_FROM_ROUTES
from mockstatus.scenarios import collector


class FakeGC:
    """The part of the `gc` module the freezer uses, with a scripted heap."""

    def __init__(self) -> None:
        self.heap = 0  # tracked objects not frozen
        self.frozen = 0
        self.full = 0  # full collections so far
        self.calls: list[str] = []

    def freeze(self) -> None:
        self.calls.append("freeze")
        self.frozen, self.heap = self.frozen + self.heap, 0

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")
        self.heap, self.frozen = self.heap + self.frozen, 0

    def get_freeze_count(self) -> int:
        return self.frozen

    def get_stats(self) -> list[dict[str, int]]:
        return [{}, {}, {"collections": self.full}]


@pytest.fixture
def fake_gc(monkeypatch: pytest.MonkeyPatch) -> FakeGC:
    fake = FakeGC()
    monkeypatch.setattr(collector, "gc", fake)
    return fake


def test_small_configurations_are_never_frozen(fake_gc: FakeGC) -> None:
    freezer = collector.Freezer()
    fake_gc.heap = 50_000
    freezer.after_commit(FREEZE_FROM_ROUTES - 1)
    assert fake_gc.calls == []


def test_a_large_configuration_is_frozen_until_the_frozen_heap_doubles(fake_gc: FakeGC) -> None:
    freezer = collector.Freezer()
    fake_gc.heap = 150_000
    freezer.after_commit(FREEZE_FROM_ROUTES)
    assert (fake_gc.calls, fake_gc.frozen, freezer.base) == (["freeze"], 150_000, 150_000)
    fake_gc.heap = 260_000  # 150,000 frozen is within 2 * 150,000 + 100,000: freeze the growth
    freezer.after_commit(FREEZE_FROM_ROUTES)
    assert fake_gc.calls == ["freeze", "freeze"] and fake_gc.frozen == 410_000
    fake_gc.heap = 100  # 410,000 frozen: past the bound, so this commit thaws everything
    freezer.after_commit(FREEZE_FROM_ROUTES)
    assert fake_gc.calls[-1] == "unfreeze" and fake_gc.frozen == 0
    freezer.after_commit(FREEZE_FROM_ROUTES)  # no full collection yet: stay thawed
    assert fake_gc.calls[-1] == "unfreeze"
    fake_gc.full += 1  # CPython collected everything once (leaked cycles are gone)
    fake_gc.heap = 300_000
    freezer.after_commit(FREEZE_FROM_ROUTES)
    assert (fake_gc.calls[-1], freezer.base) == ("freeze", 300_000)


def test_shrinking_below_the_threshold_thaws_what_we_froze(fake_gc: FakeGC) -> None:
    freezer = collector.Freezer()
    fake_gc.heap = 10
    freezer.after_commit(FREEZE_FROM_ROUTES)
    freezer.after_commit(1)
    assert fake_gc.calls == ["freeze", "unfreeze"] and not freezer.frozen


def test_full_collections_are_paused_during_builds_and_restored() -> None:
    before = gc.get_threshold()
    with collector.collector_paused():
        with collector.collector_paused():  # nested / concurrent builds
            assert gc.get_threshold()[:2] == before[:2]  # young collections go on
            assert gc.get_threshold()[2] >= 1 << 30
        assert gc.get_threshold()[2] >= 1 << 30  # still one build running
    assert gc.get_threshold() == before
