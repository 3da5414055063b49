"""The optional compiled parts of the runtime (``schemabus.runtime._speedups``, built from
runtime/_speedups.c when a C compiler is present at install), and what runs without them.

- :func:`compiled_encoder` and :func:`compiled_reader`: a codec program (see
  :mod:`schemabus.runtime.avro`) as a ``model -> header + payload`` function and as a
  ``(buffer, position) -> (model, end)`` function, several times faster than the generated Python
  writer and reader; None without the extension (callers then use the generated Python code).
- :data:`DeliveryCounter`: the delivery callback of every record of one ``publish_many`` batch.

``SCHEMABUS_NO_SPEEDUPS`` set to anything but empty or ``0`` switches the extension off.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

__all__ = ["DeliveryCounter", "PyDeliveryCounter", "compiled_encoder", "compiled_reader", "extension"]


def _load() -> Any:
    if os.environ.get("SCHEMABUS_NO_SPEEDUPS", "") not in ("", "0"):
        return None
    try:
        from . import _speedups
    except ImportError:
        return None
    return _speedups


extension: Any = _load()


def compiled_encoder(program: tuple[Any, ...] | None, header: bytes = b"") -> Callable[[Any], bytes] | None:
    """The compiled ``model -> header + payload`` function of ``program``; None without the extension."""
    if extension is None or program is None:
        return None
    encode: Callable[[Any], bytes] = extension.Encoder(program, header).encode
    return encode


def compiled_reader(program: tuple[Any, ...] | None) -> Callable[[bytes, int], tuple[Any, int]] | None:
    """The compiled ``(buffer, position) -> (model, end)`` function of ``program``; None without the extension."""
    if extension is None or program is None:
        return None
    read: Callable[[bytes, int], tuple[Any, int]] = extension.Decoder(program).read
    return read


class PyDeliveryCounter:
    """``counter(error, message)`` is the on_delivery callback of every record of one batch: it calls
    ``on_error(error, message)`` for a failed record, and ``on_done()`` once the reports of every
    record sent and the seal (``seal(sent)``: the batch has sent its last record) have arrived.

    Reports arrive in whichever thread polls: ``itertools.count`` counts them atomically, so exactly
    one arrival sees the total. (The compiled ``DeliveryCounter`` does the same in C.)
    """

    def __init__(self, on_error: Callable[[Any, Any], object], on_done: Callable[[], object]) -> None:
        self._on_error = on_error
        self._on_done = on_done
        self._next = itertools.count(1).__next__
        self._expected = -1

    def __call__(self, error: Any, message: Any) -> None:
        try:
            if error is not None:
                self._on_error(error, message)
        finally:  # counted even when on_error raises: the batch must still finish
            if self._next() == self._expected:
                self._on_done()

    def seal(self, sent: int) -> None:
        if sent < 0 or self._expected != -1:
            raise ValueError("seal(sent) takes the number of records sent, once")
        self._expected = sent + 1
        if self._next() == self._expected:
            self._on_done()


DeliveryCounter: Any = PyDeliveryCounter if extension is None else extension.DeliveryCounter
