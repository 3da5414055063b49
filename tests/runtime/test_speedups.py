"""The compiled Avro encoder (runtime/_speedups.c) against the generated Python writers, and the
delivery counter of publish_many in C and in Python.

tests/codegen/test_roundtrip.py checks both paths against fastavro on every schema with generated
examples; these tests cover what examples rarely reach: edge values, time zones, other container
types, buffer growth, every error, invalid programs, leaks, and switching the extension off.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import types
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import platform_events as m
from platform_events.agent import avro_codecs as agent_codecs
from platform_events.cost import avro_codecs as cost_codecs
from schemabus.runtime import avro as rt
from schemabus.runtime.serde import DeserializationError, frame_header
from schemabus.runtime.speedups import PyBins, PyDeliveryCounter, compiled_encoder, compiled_reader, extension

from ..catalog_examples import cost_recorded

if os.environ.get("SCHEMABUS_NO_SPEEDUPS", "") not in ("", "0"):
    pytest.skip("the compiled codec is switched off (SCHEMABUS_NO_SPEEDUPS)", allow_module_level=True)
# Not skipped when missing: scripts/setup builds it, and a failed build must not pass unnoticed.
from schemabus.runtime import _speedups as speedups

SERDE = agent_codecs.agent_created_serde


def event(**changes: Any) -> m.AgentCreated:
    base = m.AgentCreated(
        agent_id=uuid.UUID("6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a11"),
        agent_type=m.AgentType.RESEARCHER,
        display_name="Literature researcher (EU)",
        created_at=dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC),
        capabilities=["search", "summarize"],
        creator_id="user-4711",
        labels={"team": "research"},
        availability=m.AvailabilityWindow(start_time=dt.time(8), end_time=dt.time(18, 30)),
    )
    for name, value in changes.items():
        object.__setattr__(base, name, value)  # past validation, as model_construct or mutation can
    return base


def compiled(serde: Any = SERDE) -> Callable[[Any], bytes]:
    encode = compiled_encoder(serde.program)
    assert encode is not None
    return encode


def python(value: Any, serde: Any = SERDE) -> bytes:
    out = bytearray()
    serde.write(value, out)
    return bytes(out)


def test_the_extension_is_built_and_used() -> None:
    assert extension is speedups
    assert type(SERDE.serializer(7)).__name__ == "builtin_function_or_method"
    assert SERDE.serializer(7)(event()) == frame_header(7) + python(event())
    assert SERDE.encode(event()) == python(event())


def test_the_header_comes_first() -> None:
    header = b"\x00\x00\x00\x01\x02"
    assert compiled_encoder(SERDE.program, header)(event()) == header + python(event())  # type: ignore[misc]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"display_name": None, "availability": None, "capabilities": [], "labels": {}},
        {"display_name": "é" * 40 + "\U0001f600", "creator_id": "x" * 63},  # non-ASCII; 63 and 64+ byte lengths
        {"creator_id": "x" * 64, "capabilities": ["c"] * 64, "labels": {f"k{i}": "v" * i for i in range(70)}},
        {"creator_id": "y" * 1_000_000},  # grows the buffer far past its first 512 bytes
        {"schema_version": -(2**31)},
        {"schema_version": 2**31 - 1},
        {"schema_version": 63},
        {"schema_version": -65},
        {"capabilities": ("a", "b")},  # any sequence, as the Python writer takes it
        {"labels": types.MappingProxyType({"a": "b"})},  # any mapping
    ],
    ids=lambda c: ",".join(c) or "as-built",
)
def test_same_bytes_as_the_python_writer(changes: dict[str, Any]) -> None:
    value = event(**changes)
    assert compiled()(value) == python(value)


PARIS = zoneinfo.ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=dt.UTC),  # negative: millis round down
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(2000, 2, 29, 1, 2, 3, 4, tzinfo=dt.UTC),
        dt.datetime(2100, 3, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 29, 12, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        dt.datetime(2026, 3, 29, 12, tzinfo=dt.timezone(-dt.timedelta(hours=9, seconds=1, microseconds=7))),
        dt.datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=PARIS),  # the hour that happens twice
        dt.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=PARIS),
        pydantic.TypeAdapter(pydantic.AwareDatetime).validate_python("2026-11-28T12:00:00.5Z"),  # pydantic's TzInfo
        pydantic.TypeAdapter(pydantic.AwareDatetime).validate_python("2026-11-28T12:00:00-03:00"),
    ],
    ids=str,
)
@pytest.mark.parametrize("unit", [1, 1000])
def test_timestamps_match_the_python_conversion(when: dt.datetime, unit: int) -> None:
    conversion = rt.timestamp_to_micros if unit == 1 else rt.timestamp_to_millis
    back = rt.micros_to_timestamp if unit == 1 else rt.millis_to_timestamp
    program = (rt.OP_TIMESTAMP, unit, conversion, back)
    encode, read = compiled_encoder(program), compiled_reader(program)
    assert encode is not None and read is not None
    assert encode(when) == rt.write_long(conversion(when))
    decoded, end = read(encode(when), 0)
    assert (decoded, end) == (back(conversion(when)), len(encode(when)))
    assert decoded.tzinfo is dt.UTC


def test_a_datetime_subclass_goes_through_the_conversion() -> None:
    seen = []

    class Stamp(dt.datetime):
        pass

    def conversion(t: dt.datetime) -> int:
        seen.append(t)
        return rt.timestamp_to_micros(t)

    value = Stamp(2026, 1, 2, tzinfo=dt.UTC)
    assert compiled_encoder((rt.OP_TIMESTAMP, 1, conversion, rt.micros_to_timestamp))(value) == rt.write_long(  # type: ignore[misc]
        rt.timestamp_to_micros(value)
    )
    assert seen == [value]


def test_uuids() -> None:
    class Tagged(uuid.UUID):
        def __str__(self) -> str:
            return "tagged"

    encode = compiled_encoder((rt.OP_UUID,))
    assert encode is not None
    for u in (
        uuid.UUID(int=0),
        uuid.UUID(int=2**128 - 1),
        uuid.uuid4(),
        uuid.UUID("00000000-0000-0000-0000-00000000000a"),
    ):
        assert encode(u) == b"\x48" + str(u).encode()
    assert encode(Tagged(int=5)) == b"\x0ctagged"  # a subclass's own str(), as the Python writer uses
    assert encode("6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a11") == b"\x48" + b"6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a11"
    broken = uuid.UUID(int=1)
    object.__setattr__(broken, "int", "nope")
    with pytest.raises(TypeError, match="expected a UUID with an int, got UUID"):
        encode(broken)


def test_bytes_fixed_and_floats() -> None:
    b = compiled_encoder((rt.OP_BYTES,))
    f = compiled_encoder((rt.OP_FIXED, 3))
    single = compiled_encoder((rt.OP_FLOAT,))
    double = compiled_encoder((rt.OP_DOUBLE,))
    assert b is not None and f is not None and single is not None and double is not None
    for data in (b"", b"abc", bytearray(b"xyz"), memoryview(b"0123456789" * 10)):
        assert b(data) == rt.write_long(len(data)) + bytes(data)
    assert f(b"abc") == b"abc"
    with pytest.raises(ValueError, match="fixed needs 3 bytes, not 2"):
        f(b"ab")
    with pytest.raises(TypeError, match="expected bytes, got str"):
        b("abc")
    for x in (0.0, -1.5, 1e300, float("inf"), 3):
        assert double(x) == rt.pack_double(x)
    assert single(1.5) == rt.pack_float(1.5)
    with pytest.raises(OverflowError):
        single(1e300)  # as struct.pack("<f") refuses it
    with pytest.raises(TypeError, match="expected a float, got str"):
        double("1.0")


class Color(enum.StrEnum):
    RED = "RED"
    GREEN = "GREEN"


def test_enums_by_identity_then_by_equality() -> None:
    table = {Color.RED: b"\x00", Color.GREEN: b"\x02"}
    program = (rt.OP_ENUM, table, (Color.RED, Color.GREEN), "Color")
    encode, read = compiled_encoder(program), compiled_reader(program)
    assert encode is not None and read is not None
    assert encode(Color.GREEN) == b"\x02"
    assert encode("GREEN") == b"\x02"  # equal to a member of a str enum, as the dict lookup finds it
    with pytest.raises(ValueError, match="'BLUE' is not a symbol of Color"):
        encode("BLUE")
    assert read(b"\x02", 0) == (Color.GREEN, 1)
    with pytest.raises(rt.AvroDecodeError, match="enum index 2 out of range for Color"):
        read(b"\x04", 0)


def test_optional_branch_order() -> None:
    null_last = compiled_encoder((rt.OP_OPTIONAL, 1, 0, (rt.OP_LONG,)))
    assert null_last is not None
    assert null_last(None) == b"\x02"
    assert null_last(-1) == b"\x00\x01"


def test_the_python_writer_is_called_for_what_the_program_hands_back() -> None:
    calls = []

    def writer(value: Any, out: bytearray) -> None:
        calls.append(value)
        out += b"<" + str(value).encode() + b">"

    def reader(buf: bytes, pos: int) -> tuple[int, int]:
        end = buf.index(b">", pos)
        return int(buf[pos + 1 : end]), end + 1

    program = (rt.OP_ARRAY, (rt.OP_PYTHON, writer, reader))
    encode, read = compiled_encoder(program), compiled_reader(program)
    assert encode is not None and read is not None
    assert encode([1, 2]) == b"\x04<1><2>\x00"
    assert calls == [1, 2]
    assert read(b"\x04<1><2>\x00", 0) == ([1, 2], 8)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"schema_version": 2**31}, ValueError, r"2147483648 is out of range for an Avro int"),
        ({"schema_version": "3"}, TypeError, "expected an int, got str"),
        ({"creator_id": 5}, TypeError, "expected a str, got int"),
        ({"creator_id": "\ud800"}, UnicodeEncodeError, "surrogates not allowed"),
        ({"capabilities": ["ok", None]}, TypeError, "expected a str, got NoneType"),
        ({"capabilities": 5}, TypeError, "an Avro array needs a list"),
        ({"labels": {"a": 1}}, TypeError, "expected a str, got int"),
        ({"labels": {1: "a"}}, TypeError, "expected a str, got int"),
        ({"labels": ["a"]}, TypeError, "expected a dict, got list"),
        ({"agent_type": "RESEARCHER"}, ValueError, "not a symbol"),
        ({"created_at": dt.datetime(2026, 1, 1)}, ValueError, "a timestamp needs a timezone"),
        ({"availability": "08:00-18:00"}, AttributeError, "start_time"),
    ],
    ids=lambda x: str(x)[:40],
)
def test_errors_name_the_field(changes: dict[str, Any], error: type[Exception], message: str) -> None:
    """The Python writer fails too (sometimes with AttributeError or KeyError); the compiled encoder
    raises TypeError or ValueError with a note naming the field, innermost first."""
    value = event(**changes)
    with pytest.raises(Exception):  # noqa: B017 - only that the Python writer refuses it as well
        python(value)
    with pytest.raises(error, match=message) as info:
        compiled()(value)
    if error in (TypeError, ValueError):
        assert info.value.__notes__ == [f"in field {next(iter(changes))}"]


def test_a_nested_error_names_every_field() -> None:
    window = m.AvailabilityWindow(start_time=dt.time(8), end_time=dt.time(9))
    object.__setattr__(window, "timezone", b"UTC")
    with pytest.raises(TypeError) as info:
        compiled()(event(availability=window))
    assert info.value.__notes__ == ["in field timezone", "in field availability"]


@pytest.mark.parametrize(
    "program",
    [
        "STRING",
        (),
        (99,),
        (rt.OP_STRING, 1),
        (rt.OP_FIXED, -1),
        (rt.OP_ENUM, [1]),
        (rt.OP_ENUM, {"A": b"\x00"}),
        (rt.OP_ENUM, {"A": "not bytes"}, ("A",), "E"),
        (rt.OP_ARRAY,),
        (rt.OP_OPTIONAL, 0, 64, (rt.OP_NULL,)),
        (rt.OP_RECORD, (("a", (rt.OP_LONG,)),)),
        (rt.OP_RECORD, (("a",),), m.AgentCreated, frozenset()),
        (rt.OP_RECORD, ((1, (rt.OP_LONG,)),), m.AgentCreated, frozenset()),
        (rt.OP_RECORD, (("a", (rt.OP_LONG, 5)),), m.AgentCreated, frozenset()),
        (rt.OP_RECORD, (), "not a class", frozenset()),
        (rt.OP_TIMESTAMP, 10, rt.timestamp_to_micros, rt.micros_to_timestamp),
        (rt.OP_TIMESTAMP, 1, rt.timestamp_to_micros),
        (rt.OP_CONVERT, "not callable", (rt.OP_LONG,), int),
        (rt.OP_CONVERT, int, (rt.OP_LONG,)),
        (rt.OP_PYTHON, None, None),
        (rt.OP_PYTHON, print),
    ],
    ids=repr,
)
def test_invalid_programs_are_refused(program: Any) -> None:
    with pytest.raises(ValueError, match="invalid codec program"):
        speedups.Encoder(program)
    with pytest.raises(ValueError, match="invalid codec program"):
        speedups.Decoder(program)


def test_a_program_nested_past_the_limit_is_refused() -> None:
    program: Any = (rt.OP_LONG,)
    for _ in range(300):
        program = (rt.OP_ARRAY, program)
    with pytest.raises(ValueError, match="nested too deeply"):
        speedups.Encoder(program)


def traced_growth(run: Callable[[int], None]) -> int:
    """Bytes the Python allocators hold more after ``run(20000)`` than before (``run(2000)`` warms caches)."""
    run(2000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run(20000)
        return int(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()


def test_no_leaks_on_success_or_failure() -> None:
    encode = compiled()
    good = event(labels={"a": "b", "c": "d"}, created_at=dt.datetime(2026, 1, 1, tzinfo=PARIS))
    bad = event(capabilities=["x", 5])
    odd_uuid = event(agent_id=type("U", (uuid.UUID,), {})(int=7))

    def run(n: int) -> None:
        for _ in range(n):
            encode(good)
            encode(odd_uuid)
            with pytest.raises(TypeError):
                encode(bad)

    grown = traced_growth(run)
    assert grown < 64 * 1024, f"{grown} bytes more after 60,000 encodes: a leak"


def test_switched_off_by_the_environment() -> None:
    script = (
        "import sys; sys.path.insert(0, 'generated')\n"
        "from schemabus.runtime import speedups\n"
        "from platform_events.agent import avro_codecs as c\n"
        "print(speedups.extension is None, speedups.compiled_encoder(c.agent_created_serde.program) is None,"
        " type(c.agent_created_serde.serializer(1)).__name__, speedups.DeliveryCounter.__name__)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "SCHEMABUS_NO_SPEEDUPS": "1"},
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["True", "True", "function", "PyDeliveryCounter"]


COUNTERS = [PyDeliveryCounter, speedups.DeliveryCounter]


@pytest.mark.parametrize("counter_type", COUNTERS, ids=lambda t: t.__module__)
@pytest.mark.parametrize("seal_at", [0, 2, 5])
def test_delivery_counter_is_done_after_every_report_and_the_seal(counter_type: Any, seal_at: int) -> None:
    errors: list[tuple[Any, Any]] = []
    done: list[int] = []
    counter = counter_type(lambda e, m: errors.append((e, m)), lambda: done.append(1))
    for i in range(5):
        if i == seal_at:
            counter.seal(5)
        assert not done
        counter("boom" if i == 3 else None, f"message {i}")
    if seal_at == 5:
        assert not done
        counter.seal(5)
    assert done == [1]
    assert errors == [("boom", "message 3")]
    with pytest.raises(ValueError, match="once"):
        counter.seal(5)


@pytest.mark.parametrize("counter_type", COUNTERS, ids=lambda t: t.__module__)
def test_delivery_counter_of_an_empty_batch_and_errors_of_its_callbacks(counter_type: Any) -> None:
    done: list[int] = []
    counter_type(print, lambda: done.append(1)).seal(0)
    assert done == [1]

    def refuse(error: Any, message: Any) -> None:
        raise KeyError("from on_error")

    with pytest.raises(KeyError, match="from on_error"):
        counter_type(refuse, print)("error", "message")


@pytest.mark.parametrize("counter_type", COUNTERS, ids=lambda t: t.__module__)
def test_delivery_counter_counts_reports_from_many_threads(counter_type: Any) -> None:
    done: list[int] = []
    counter = counter_type(print, lambda: done.append(1))
    threads = [threading.Thread(target=lambda: [counter(None, None) for _ in range(20_000)]) for _ in range(4)]
    for t in threads:
        t.start()
    counter.seal(80_000)
    for t in threads:
        t.join()
    assert done == [1]


class Acked:
    """A delivery report's message with the latency librdkafka measured (None: not known)."""

    def __init__(self, latency: float | None) -> None:
        self._latency = latency

    def latency(self) -> float | None:
        return self._latency


@pytest.mark.parametrize("counter_type", COUNTERS, ids=lambda t: t.__module__)
def test_delivery_counter_bins_the_latency_of_each_acknowledged_record(counter_type: Any) -> None:
    failed: list[Any] = []
    counter = counter_type(lambda e, m: failed.append(e), print, (0.01, 0.1, 1.0))
    for report in (Acked(0.005), Acked(0.01), Acked(0.05), Acked(2.0), Acked(None)):
        counter(None, report)
    counter("boom", Acked(0.5))  # failed: neither acknowledged nor binned
    bins, total, acknowledged = counter.latencies()
    assert bins == (2, 1, 0, 1)  # <= 0.01, <= 0.1, <= 1.0, above
    assert total == pytest.approx(2.065)
    assert acknowledged == 5 and failed == ["boom"]
    assert counter_type(print, print).latencies() is None  # without bounds: nothing measured


@pytest.mark.parametrize("counter_type", COUNTERS, ids=lambda t: t.__module__)
def test_delivery_counter_refuses_bounds_that_do_not_increase_and_counts_a_failing_latency(counter_type: Any) -> None:
    for bounds in ((), (1.0, 1.0), (2.0, 1.0)):
        with pytest.raises(ValueError, match="latency_bounds"):
            counter_type(print, print, bounds)

    class Broken:
        def latency(self) -> float:
            raise RuntimeError("no latency")

    done: list[int] = []
    counter = counter_type(print, lambda: done.append(1), (1.0,))
    counter.seal(1)
    with pytest.raises(RuntimeError, match="no latency"):
        counter(None, Broken())
    assert done == [1]  # the report still counts: the batch finishes


BINS = [PyBins, speedups.Bins]


@pytest.mark.parametrize("bins_type", BINS, ids=lambda t: t.__module__)
def test_bins_count_each_observation_by_the_first_bound_not_below_it(bins_type: Any) -> None:
    bins = bins_type((0.1, 1.0, 10.0))
    assert bins.bounds == (0.1, 1.0, 10.0)
    for value in (0.05, 0.1, 0.5, 1.0, 3.0, 50.0):
        bins.observe(value)
    assert bins.counts() == (2, 2, 1, 1)
    assert bins.sum == pytest.approx(54.65)
    bins.add([1, 0, 0, 3], 0.5)
    assert bins.counts() == (3, 2, 1, 4)
    with pytest.raises(ValueError, match="3 bins for a histogram of 4"):
        bins.add((1, 2, 3), 0.0)
    assert bins.counts() == (3, 2, 1, 4)  # a refused add adds nothing
    started = time.perf_counter()
    bins.observe_since(started - 5.0)  # five seconds ago (and a little)
    assert bins.counts() == (3, 2, 2, 4)
    for bounds in ((), (1.0, 1.0), (2.0, 1.0)):
        with pytest.raises(ValueError, match="increasing"):
            bins_type(bounds)


# --- decoding ------------------------------------------------------------------------------


def python_serde(serde: Any) -> Any:
    """The same serde without a program (and without its bound codecs): the generated Python code."""
    return dataclasses.replace(serde, program=None)


def outcome(serde: Any, payload: bytes) -> Any:
    """The model, or the poison reason."""
    try:
        return serde.decode(payload)
    except DeserializationError as e:
        return e.reason


NOW = dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC)
SAMPLES = [
    (SERDE, event()),
    (SERDE, event(display_name=None, availability=None)),
    (cost_codecs.cost_recorded_serde, cost_recorded()[1]),
]


@pytest.mark.parametrize(("serde", "value"), SAMPLES, ids=["created", "created-nulls", "cost"])
def test_every_truncation_is_poison_on_both_paths(serde: Any, value: Any) -> None:
    payload = serde.encode(value)
    assert serde.decode(payload) == value == python_serde(serde).decode(payload)
    for end in range(len(payload)):
        for s in (serde, python_serde(serde)):
            assert outcome(s, payload[:end]) == "truncated", (end, s.program is None)
    for s in (serde, python_serde(serde)):
        assert outcome(s, payload + b"\x00") == "invalid-payload"  # bytes left over


@pytest.mark.parametrize(("serde", "value"), SAMPLES, ids=["created", "created-nulls", "cost"])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_damaged_payloads_decode_alike_on_both_paths(serde: Any, value: Any, data: st.DataObject) -> None:
    """Bytes changed anywhere: both paths refuse them as poison of the same reason, or both read
    the same model."""
    payload = bytearray(serde.encode(value))
    for _ in range(data.draw(st.integers(1, 3))):
        payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    compiled, python = outcome(serde, bytes(payload)), outcome(python_serde(serde), bytes(payload))
    assert compiled == python


@pytest.mark.parametrize(
    "text",
    [
        "6F1C0A3E-3F0E-4C57-9D2B-3D6F2F0D1A11",  # upper case: the fast path too
        "6f1c0a3e3f0e4c579d2b3d6f2f0d1a11",  # other forms: uuid.UUID
        "{6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a11}",
        "urn:uuid:6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a11",
        "6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a1g",
        "6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a1",
        "",
    ],
)
def test_uuid_text_decodes_as_uuid_from_str_reads_it(text: str) -> None:
    read = compiled_reader((rt.OP_UUID,))
    assert read is not None
    payload = rt.write_long(len(text.encode())) + text.encode()
    try:
        expected: Any = rt.uuid_from_str(text)
    except ValueError as e:
        expected = type(e)
    try:
        got: Any = read(payload, 0)[0]
    except ValueError as e:
        got = type(e)
    assert got == expected
    if isinstance(got, uuid.UUID):
        assert type(got) is uuid.UUID and got.is_safe is uuid.SafeUUID.unknown


@pytest.mark.parametrize("micros", [-(2**63), -62135596800_000_001, 253402300800_000_000, 2**63 - 1])
def test_timestamps_out_of_range_are_poison_on_both_paths(micros: int) -> None:
    value = SERDE.encode(event())
    stamp = rt.write_long(rt.timestamp_to_micros(NOW))
    assert stamp in value
    damaged = value.replace(stamp, rt.write_long(micros), 1)
    for s in (SERDE, python_serde(SERDE)):
        assert outcome(s, damaged) == "invalid-payload"


def test_varints_past_64_bits_are_refused() -> None:
    read = compiled_reader((rt.OP_LONG,))
    assert read is not None
    assert read(rt.write_long(-(2**63)), 0)[0] == -(2**63)
    assert read(rt.write_long(2**63 - 1), 0)[0] == 2**63 - 1
    with pytest.raises(rt.AvroDecodeError, match="longer than 64 bits"):
        read(b"\xff" * 9 + b"\x02", 0)
    with pytest.raises(rt.AvroTruncatedError, match="truncated"):
        read(b"\xff" * 5, 0)
    for reader in (read, rt.read_long):
        with pytest.raises(rt.AvroDecodeError, match="longer than 64 bits"):
            reader(b"\xff" * 9 + b"\x02", 0)


def test_decoding_does_not_leak() -> None:
    good = SERDE.encode(event(labels={"a": "b"}, agent_id=uuid.UUID(int=9)))
    odd = SERDE.encode(event(agent_id=uuid.UUID(int=9))).replace(
        str(uuid.UUID(int=9)).encode(), b"0" * 28 + b"-0-0-0-0"
    )  # 36 characters, not canonical
    bad = good[:-3]

    def run(n: int) -> None:
        for _ in range(n):
            SERDE.decode(good)
            SERDE.decode(odd)
            with pytest.raises(DeserializationError):
                SERDE.decode(bad)

    grown = traced_growth(run)
    assert grown < 64 * 1024, f"{grown} bytes more after 60,000 decodes: a leak"


# --- found in review: misuse and hostile input ------------------------------------------------


def test_codecs_are_initialized_once() -> None:
    encoder, decoder = speedups.Encoder((rt.OP_LONG,)), speedups.Decoder((rt.OP_LONG,))
    with pytest.raises(RuntimeError, match="initialized once"):
        encoder.__init__((rt.OP_NULL,))
    with pytest.raises(RuntimeError, match="initialized once"):
        decoder.__init__((rt.OP_NULL,))
    assert encoder.encode(5) == b"\x0a" and decoder.read(b"\x0a", 0) == (5, 1)
    failed = speedups.Encoder.__new__(speedups.Encoder)
    with pytest.raises(ValueError, match="invalid codec program"):
        failed.__init__((99,))
    with pytest.raises(RuntimeError, match="not initialized"):
        failed.encode(None)


def test_a_record_class_must_be_constructible() -> None:
    with pytest.raises(ValueError, match="invalid codec program"):
        speedups.Decoder((rt.OP_RECORD, (), types.FrameType, frozenset()))


def test_a_block_count_of_the_lowest_long_is_refused() -> None:
    read = compiled_reader((rt.OP_ARRAY, (rt.OP_LONG,)))
    assert read is not None
    with pytest.raises(rt.AvroDecodeError, match="block count"):
        read(rt.write_long(-(2**63)) + b"\x00\x00", 0)


def test_a_map_changed_while_it_is_encoded_is_an_error() -> None:
    def grow(value: int) -> int:
        if value == 1:
            labels["c"] = 3
        return value

    labels = {"a": 1, "b": 2}
    encode = compiled_encoder((rt.OP_MAP, (rt.OP_CONVERT, grow, (rt.OP_LONG,), int)))
    assert encode is not None
    with pytest.raises(RuntimeError, match="changed size"):
        encode(labels)


def test_the_enum_table_is_held_as_it_was_compiled() -> None:
    table: dict[Any, Any] = {Color.RED: b"\x00", Color.GREEN: b"\x02"}
    encode = compiled_encoder((rt.OP_ENUM, table, (Color.RED, Color.GREEN), "Color"))
    assert encode is not None
    table.clear()
    assert encode(Color.GREEN) == b"\x02"
    table["GREEN-ish"] = 12345
    with pytest.raises(TypeError, match="expected bytes in the enum table"):
        encode("GREEN-ish")


def test_an_offset_past_a_day_is_refused_as_datetime_refuses_it() -> None:
    class Far(dt.tzinfo):
        def utcoffset(self, d: dt.datetime | None) -> dt.timedelta:
            return dt.timedelta(days=2)

    encode = compiled_encoder((rt.OP_TIMESTAMP, 1, rt.timestamp_to_micros, rt.micros_to_timestamp))
    assert encode is not None
    value = dt.datetime(2026, 1, 1, tzinfo=Far())
    with pytest.raises(ValueError, match="strictly between"):
        rt.timestamp_to_micros(value)
    with pytest.raises(ValueError, match="strictly between"):
        encode(value)


@pytest.mark.parametrize("counter_type", COUNTERS, ids=lambda t: t.__module__)
def test_a_report_counts_even_when_on_error_raises(counter_type: Any) -> None:
    done: list[int] = []

    def refuse(error: Any, message: Any) -> None:
        raise KeyError("from on_error")

    counter = counter_type(refuse, lambda: done.append(1))
    counter.seal(1)
    with pytest.raises(KeyError, match="from on_error"):
        counter("error", "message")
    assert done == [1]
