"""schemabus code generator: schemas in, typed Pydantic models, codecs, publishers and handlers out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("schemabus")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
