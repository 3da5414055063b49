"""schemabus runtime (public API filled in below)."""
