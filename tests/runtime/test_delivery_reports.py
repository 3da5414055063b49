"""The delivery reports of asyncio publishes (``speedups.Reports``), compiled
(runtime/_delivery_reports.c) and in Python: the same behaviour from both."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from schemabus.runtime import speedups
from schemabus.runtime.speedups import PyReports
from schemabus.runtime.topic import DeliveryResult

REPORTS = [PyReports] + ([] if speedups.extension is None else [speedups.extension.Reports])


class Message:
    """A delivery report's message, as confluent-kafka hands it over."""

    def __init__(self, offset: int) -> None:
        self._offset = offset

    def topic(self) -> str:
        return "orders"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000 + self._offset)


def where(offset: int) -> DeliveryResult:
    return DeliveryResult("orders", 2, offset, 1_700_000_000_000 + offset)


@pytest.mark.parametrize("reports_type", REPORTS, ids=lambda t: t.__module__)
def test_reports_kept_until_taken_then_resolved_in_their_loop(reports_type: Any) -> None:
    failed: list[tuple[Any, Any, Any]] = []

    def on_error(future: Any, error: Any, message: Any) -> None:
        failed.append((future, error, message))
        future.set_exception(RuntimeError(error))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        reports = reports_type(DeliveryResult, on_error)
        futures = [loop.create_future() for _ in range(4)]
        callbacks = [reports.callback(f) for f in futures]
        futures[2].cancel()  # its caller gave up: resolved no more
        for i, callback in enumerate(callbacks):
            callback("boom" if i == 3 else None, Message(i))
        assert len(reports) == 4 and not any(f.done() for f in futures if not f.cancelled())
        taken = reports.take()
        assert list(taken) == [loop] and len(taken[loop]) == 4 and len(reports) == 0
        assert reports.take() == {}
        reports.resolve(taken[loop])
        result = futures[0].result()
        assert type(result) is DeliveryResult and result == where(0) and futures[1].result() == where(1)
        assert futures[2].cancelled()
        with pytest.raises(RuntimeError, match="boom"):
            futures[3].result()
        assert [(e, m.offset()) for _, e, m in failed] == [("boom", 3)]

    asyncio.run(main())


@pytest.mark.parametrize("reports_type", REPORTS, ids=lambda t: t.__module__)
def test_reports_resolved_at_once_only_in_the_thread_serving_their_loop(reports_type: Any) -> None:
    seen: list[Any] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        reports = reports_type(DeliveryResult, print, lambda error, message: seen.append((error, message.offset())))
        here, other_loop = loop.create_future(), asyncio.new_event_loop()
        try:
            elsewhere = other_loop.create_future()
            reports.serve(loop)
            reports.callback(here)(None, Message(7))  # this thread serves this loop: resolved now
            reports.callback(elsewhere)(None, Message(8))  # another loop's future: kept
            other = threading.Thread(target=reports.callback(late := loop.create_future()), args=(None, Message(9)))
            other.start()
            other.join()  # another thread, even for this loop: kept
            reports.serve(None)
            reports.callback(after := loop.create_future())(None, Message(10))  # no longer served: kept
            assert here.result() == where(7) and not elsewhere.done() and not late.done() and not after.done()
            taken = reports.take()
            assert {k: [m.offset() for _, _, m in v] for k, v in taken.items()} == {other_loop: [8], loop: [9, 10]}
            reports.resolve(taken[loop])
            assert late.result() == where(9) and after.result() == where(10)
            assert seen == [(None, 7), (None, 8), (None, 9), (None, 10)]  # observed before anything else
        finally:
            other_loop.close()

    asyncio.run(main())


@pytest.mark.parametrize("reports_type", REPORTS, ids=lambda t: t.__module__)
def test_reports_refuse_what_they_cannot_use(reports_type: Any) -> None:
    with pytest.raises(TypeError, match="tuple subclass"):
        reports_type(dict, print)
    with pytest.raises(TypeError):
        reports_type(DeliveryResult, "not callable")

    def refuse(future: Any, error: Any, message: Any) -> None:
        raise KeyError("from on_error")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        reports = reports_type(DeliveryResult, refuse)
        reports.serve(loop)
        with pytest.raises(KeyError, match="from on_error"):
            reports.callback(loop.create_future())("boom", Message(1))

    asyncio.run(main())
