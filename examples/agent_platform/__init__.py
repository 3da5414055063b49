"""The agent platform of the seed document as a small schemabus service.

Read it in the order the data flows (README.md beside this file walks through it):
``topics`` → ``agent_registry`` → ``projector`` → ``capabilities`` → ``costs`` → ``aggregator``
→ ``service`` (wiring, metrics, health, topics at start) → ``__main__`` (the command and a demo).
"""
