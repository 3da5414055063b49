"""The optional compiled parts of the runtime (``schemabus.runtime._speedups``, built from
runtime/_speedups.c when a C compiler is present at install), and what runs without them.

- :func:`compiled_encoder` and :func:`compiled_reader`: a codec program (see
  :mod:`schemabus.runtime.avro`) as a ``model -> header + payload`` function and as a
  ``(buffer, position) -> (model, end)`` function, several times faster than the generated Python
  writer and reader; None without the extension (callers then use the generated Python code).
- :data:`DeliveryCounter`: the delivery callback of every record of one ``publish_many`` batch.
- :data:`Reports`: the delivery reports of asyncio publishes, and their futures' resolution.
- :data:`Bins`: the bucket counts of a histogram of :mod:`schemabus.runtime.metrics`.

``SCHEMABUS_NO_SPEEDUPS`` set to anything but empty or ``0`` switches the extension off.

When the extension is missing (installed from the sdist without a C compiler: setup.py builds it
as optional), the first codec that would have used it warns once per process with
:class:`SpeedupsWarning` and the Python codecs run: the same bytes and models, more slowly.
Switched off on purpose, nothing is said.
"""

from __future__ import annotations

import bisect
import functools
import importlib
import itertools
import os
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

__all__ = [
    "Bins",
    "DeliveryCounter",
    "PyBins",
    "PyDeliveryCounter",
    "PyReports",
    "Reports",
    "SpeedupsWarning",
    "compiled_encoder",
    "compiled_reader",
    "extension",
]


class SpeedupsWarning(RuntimeWarning):
    """The compiled codec is not built: the (slower) Python codecs encode and decode instead."""


# Why the extension failed to import, until the one warning about it is given (None: loaded or switched off).
_missing: str | None = None
_missing_lock = threading.Lock()


def _load() -> Any:
    global _missing
    if os.environ.get("SCHEMABUS_NO_SPEEDUPS", "") not in ("", "0"):
        return None
    try:
        return importlib.import_module(f"{__package__}._speedups")
    except ImportError as e:  # not built (no module), or built for another Python (the loader's reason)
        _missing = str(e)
        return None


extension: Any = _load()


def _warn_missing() -> None:
    """Say once per process that the Python codecs run because the extension is not built."""
    global _missing
    with _missing_lock:
        reason, _missing = _missing, None
    if reason is not None:
        warnings.warn(
            f"schemabus: the compiled Avro codec (schemabus.runtime._speedups) is not built ({reason}); "
            "using the Python codecs, which write and read the same bytes more slowly. Reinstall schemabus "
            "where a C compiler is available to build it, or set SCHEMABUS_NO_SPEEDUPS=1 to use the Python "
            "codecs without this warning.",
            SpeedupsWarning,
            stacklevel=3,
        )


def compiled_encoder(program: tuple[Any, ...] | None, header: bytes = b"") -> Callable[[Any], bytes] | None:
    """The compiled ``model -> header + payload`` function of ``program``; None without the extension."""
    if extension is None or program is None:
        if program is not None:
            _warn_missing()
        return None
    encode: Callable[[Any], bytes] = extension.Encoder(program, header).encode
    return encode


def compiled_reader(program: tuple[Any, ...] | None) -> Callable[[bytes, int], tuple[Any, int]] | None:
    """The compiled ``(buffer, position) -> (model, end)`` function of ``program``; None without the extension."""
    if extension is None or program is None:
        if program is not None:
            _warn_missing()
        return None
    read: Callable[[bytes, int], tuple[Any, int]] = extension.Decoder(program).read
    return read


class PyDeliveryCounter:
    """``counter(error, message)`` is the on_delivery callback of every record of one batch: it calls
    ``on_error(error, message)`` for a failed record, and ``on_done()`` once the reports of every
    record sent and the seal (``seal(sent)``: the batch has sent its last record) have arrived.
    With ``latency_bounds`` (increasing), it also counts the acknowledged records and bins each one's
    ``message.latency()`` by the first bound not below it: :meth:`latencies`.

    Reports arrive in whichever thread polls: ``itertools.count`` counts them atomically, so exactly
    one arrival sees the total. (The compiled ``DeliveryCounter`` does the same in C.)
    """

    def __init__(
        self,
        on_error: Callable[[Any, Any], object],
        on_done: Callable[[], object],
        latency_bounds: tuple[float, ...] | None = None,
    ) -> None:
        self._on_error = on_error
        self._on_done = on_done
        self._next = itertools.count(1).__next__
        self._expected = -1
        if latency_bounds is not None and (not latency_bounds or list(latency_bounds) != sorted(set(latency_bounds))):
            raise ValueError("latency_bounds must increase")
        self._bounds = latency_bounds
        self._bins = [0] * (len(latency_bounds) + 1) if latency_bounds else []
        self._sum = 0.0
        self._acknowledged = 0

    def __call__(self, error: Any, message: Any) -> None:
        try:
            if error is not None:
                self._on_error(error, message)
            elif self._bounds is not None:
                self._acknowledged += 1
                latency = message.latency()
                if latency is not None:
                    self._bins[bisect.bisect_left(self._bounds, latency)] += 1
                    self._sum += latency
        finally:  # counted even when on_error raises: the batch must still finish
            if self._next() == self._expected:
                self._on_done()

    def seal(self, sent: int) -> None:
        if sent < 0 or self._expected != -1:
            raise ValueError("seal(sent) takes the number of records sent, once")
        self._expected = sent + 1
        if self._next() == self._expected:
            self._on_done()

    def latencies(self) -> tuple[tuple[int, ...], float, int] | None:
        """(records per latency bucket, the sum of latencies, records acknowledged); None without bounds."""
        if self._bounds is None:
            return None
        return tuple(self._bins), self._sum, self._acknowledged


DeliveryCounter: Any = PyDeliveryCounter if extension is None else extension.DeliveryCounter


class PyReports:
    """``Reports(result_type, on_error, observe=None)`` holds the delivery reports of records whose
    futures are asyncio futures. ``reports.callback(future)`` is the on_delivery callback of one record:
    called with ``(error, message)`` in whichever thread polls, it first calls ``observe(error,
    message)`` (the metrics), then resolves the future at once when that thread serves its own loop's
    reports (``serve(loop)`` ... ``serve(None)``), or else keeps ``(future, error, message)`` until
    :meth:`take` hands the kept reports over, grouped by their futures' loops, for :meth:`resolve` in
    each loop's thread. A future is resolved once: not when done already (cancelled); with
    ``result_type((topic, partition, offset, timestamp))`` when acknowledged, else by ``on_error(future,
    error, message)``. (The compiled ``Reports`` does the same in C.)
    """

    def __init__(
        self,
        result_type: type[tuple[Any, ...]],
        on_error: Callable[[Any, Any, Any], object],
        observe: Callable[[Any, Any], object] | None = None,
    ) -> None:
        if not (isinstance(result_type, type) and issubclass(result_type, tuple)):
            raise TypeError("result_type must be a tuple subclass")
        if not callable(on_error) or (observe is not None and not callable(observe)):
            raise TypeError("on_error (and observe, unless None) must be callable")
        self._new = functools.partial(tuple.__new__, result_type)
        self._on_error = on_error
        self._observe = observe
        self._kept: list[tuple[Any, Any, Any]] = []
        self._serving: tuple[int, Any] | None = None

    def callback(self, future: Any) -> Callable[[Any, Any], None]:
        return functools.partial(self._delivered, future)

    def _delivered(self, future: Any, error: Any, message: Any) -> None:
        if self._observe is not None:
            self._observe(error, message)
        serving = self._serving
        if serving is not None and serving[0] == threading.get_ident() and future.get_loop() is serving[1]:
            self._resolve_one(future, error, message)
        else:
            self._kept.append((future, error, message))

    def serve(self, loop: Any) -> None:
        self._serving = None if loop is None else (threading.get_ident(), loop)

    def take(self) -> dict[Any, list[tuple[Any, Any, Any]]]:
        kept, self._kept = self._kept, []
        by_loop: dict[Any, list[tuple[Any, Any, Any]]] = {}
        for report in kept:
            by_loop.setdefault(report[0].get_loop(), []).append(report)
        return by_loop

    def resolve(self, batch: list[tuple[Any, Any, Any]]) -> None:
        for future, error, message in batch:
            self._resolve_one(future, error, message)

    def _resolve_one(self, future: Any, error: Any, message: Any) -> None:
        if future.done():  # cancelled by its caller
            return
        if error is None:
            future.set_result(
                self._new((message.topic(), message.partition(), message.offset(), message.timestamp()[1]))
            )
        else:
            self._on_error(future, error, message)

    def __len__(self) -> int:
        return len(self._kept)


Reports: Any = PyReports if extension is None else extension.Reports


class PyBins:
    """``Bins(bounds)``: counts of observations per bucket (the first bound not below the value, as
    Prometheus' ``le``; the last bucket above every bound) and their ``sum``. ``observe(value)``,
    ``observe_since(started)`` (``time.perf_counter() - started``), ``add(bins, total)`` (observations
    binned elsewhere), ``counts()``. (The compiled ``Bins`` does the same in one C call.)
    """

    def __init__(self, bounds: tuple[float, ...]) -> None:
        bounds = tuple(float(b) for b in bounds)
        if not bounds or list(bounds) != sorted(set(bounds)):
            raise ValueError("histogram bounds must be increasing and not empty")
        self.bounds = bounds
        self._bins = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self._bins[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def observe_since(self, started: float) -> None:
        self.observe(time.perf_counter() - started)

    def add(self, bins: tuple[int, ...] | list[int], total: float) -> None:
        if len(bins) != len(self._bins):
            raise ValueError(f"{len(bins)} bins for a histogram of {len(self._bins)}")
        for i, n in enumerate(bins):
            self._bins[i] += n
        self.sum += total

    def counts(self) -> tuple[int, ...]:
        return tuple(self._bins)


Bins: Any = PyBins if extension is None else extension.Bins
