"""The README as a user reads it: its files (code blocks starting with ``# file:``), the shell
commands of the Quickstart and the pre-commit stanza."""

from __future__ import annotations

import re

from ..conftest import ROOT

FENCE = re.compile(r"^```(\w*)\s*$")


def readme() -> str:
    return (ROOT / "README.md").read_text()


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block of ``text``, in order."""
    return [(lang, body) for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)]


def section(heading: str) -> str:
    """The text under the heading line ``heading`` (``## Quickstart``) up to the next heading of
    any level (lines starting with ``#`` inside code blocks are not headings)."""
    lines = readme().splitlines(keepends=True)
    start = lines.index(heading + "\n") + 1
    fenced = False
    for end in range(start, len(lines)):
        if FENCE.match(lines[end]):
            fenced = not fenced
        elif not fenced and lines[end].startswith("#"):
            break
    else:
        end = len(lines)
    return "".join(lines[start:end])


def readme_files() -> dict[str, str]:
    """The files of the README: path -> content, from blocks whose first line is ``# file: path``."""
    files = {}
    for _, block in code_blocks(readme()):
        first, _, rest = block.partition("\n")
        m = re.fullmatch(r"(?:#|//) file: (\S+)", first.strip())
        if m:
            files[m.group(1)] = rest
    return files


def quickstart_commands() -> tuple[str, str]:
    """The Quickstart's two shell blocks: how to install schemabus, and the commands that follow
    writing its files (generate, lint, run)."""
    blocks = [body for lang, body in code_blocks(section("## Quickstart")) if lang == "bash"]
    assert len(blocks) == 2, blocks
    return blocks[0], blocks[1]


def precommit_stanza() -> str:
    """The ``.pre-commit-config.yaml`` the README's pre-commit section gives, as written."""
    (stanza,) = [body for lang, body in code_blocks(section("### pre-commit")) if lang == "yaml"]
    return stanza
