"""schemabus code generator: schemas in, typed Pydantic models, codecs, publishers and handlers out."""

from typing import Any

__all__ = ["__version__"]

__version__: str  # bound on first use, by __getattr__ below


def __getattr__(name: str) -> Any:
    """``__version__`` is read from the installed distribution on first use: importing
    ``importlib.metadata`` costs more than most commands need (``schemabus --help`` does not)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("schemabus")
    except PackageNotFoundError:  # running from a source tree that was never installed
        value = "0.0.0"
    globals()[name] = value
    return value
