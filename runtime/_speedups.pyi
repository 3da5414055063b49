# Types of the compiled encoder (runtime/_speedups.c); see runtime/avro.py for encoder programs.
from typing import Any

OPCODES: int

class Encoder:
    def __init__(self, program: tuple[Any, ...], header: bytes = ...) -> None: ...
    @property
    def header(self) -> bytes: ...
    def encode(self, value: Any, /) -> bytes: ...
