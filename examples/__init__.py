"""Runnable examples of services built on schemabus (not part of the wheel: run them from a checkout)."""
