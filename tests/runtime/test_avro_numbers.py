"""The runtime's zig-zag varints, at every size boundary, byte for byte as fastavro writes them."""

from __future__ import annotations

import io

import fastavro
import pytest

from schemabus.runtime.avro import AvroDecodeError, read_long, write_int, write_long

BOUNDARIES = sorted(
    {n for k in range(64) for n in (2**k - 1, 2**k, -(2**k), -(2**k) - 1) if -(2**63) <= n < 2**63}
    | {1_795_867_200_123_456, -1_795_867_200_123_456}  # a timestamp in microseconds
)


def _fastavro(kind: str, n: int) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, kind, n)
    return out.getvalue()


@pytest.mark.parametrize("n", BOUNDARIES)
def test_write_long_matches_fastavro_and_reads_back(n: int) -> None:
    data = write_long(n)
    assert data == _fastavro("long", n)
    assert read_long(data + b"\x00", 0) == (n, len(data))


def test_out_of_range_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="out of range for an Avro long"):
        write_long(2**63)
    with pytest.raises(ValueError, match="out of range for an Avro int"):
        write_int(2**31)
    assert write_int(2**31 - 1) == _fastavro("int", 2**31 - 1)


def test_a_truncated_number_is_a_decode_error() -> None:
    with pytest.raises(AvroDecodeError, match="truncated"):
        read_long(write_long(2**40)[:-1], 0)
