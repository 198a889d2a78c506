"""`mockstatus proxy` tunes CPython's collector once serving starts (proxy_app.PROXY_GC_YOUNG):
the young threshold raised, the other two kept, start-up's objects frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mockstatus.app import Mockstatus
from mockstatus.proxy_app import PROXY_GC_YOUNG, ProxyConfig
from mockstatus.types import ManualClock
from tests.proxyhelp import target


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    frozen = gc.get_freeze_count()
    yield
    gc.set_threshold(*thresholds)
    if not frozen:
        gc.unfreeze()


@pytest.mark.usefixtures("restored_collector")
def test_tune_collector_raises_only_the_young_threshold_and_freezes() -> None:
    gc.set_threshold(700, 11, 12)
    app = Mockstatus(clock=ManualClock(), proxy=ProxyConfig(upstream=target("http://127.0.0.1:9")))
    assert app.proxy is not None
    assert gc.get_threshold() == (700, 11, 12)  # building the app changes nothing
    app.proxy.tune_collector()
    assert gc.get_threshold() == (PROXY_GC_YOUNG, 11, 12)
    assert PROXY_GC_YOUNG == 10_000
    assert gc.get_freeze_count() > 0
