"""The real-world schema corpus (see corpus.py and sources.toml)."""
