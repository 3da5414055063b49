"""The contract between generated code and the runtime: which names generated modules use
(``runtime.avro.__all__``, ``runtime.json_schema.__all__``, ``runtime.__all__``) and its version,
which every generated package checks when it is imported."""

from __future__ import annotations

__all__ = ["CONTRACT", "require_contract"]

# The version of what generated code may use of the runtime. Raise it when generated code starts
# to need something an older runtime lacks (or stops matching what it does).
CONTRACT = 2


class ContractError(ImportError):
    """A generated package needs another contract than this runtime speaks."""


def require_contract(version: int, module: str) -> None:
    """Raise :class:`ContractError` (an ImportError) unless this runtime speaks contract ``version``."""
    if version != CONTRACT:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            here = installed("schemabus")
        except PackageNotFoundError:
            here = "unknown"
        raise ContractError(
            f"{module} was generated for the schemabus runtime contract {version}, and the installed "
            f"schemabus {here} speaks contract {CONTRACT}: run `schemabus generate` with this schemabus, "
            "or install the schemabus that generated it"
        )
