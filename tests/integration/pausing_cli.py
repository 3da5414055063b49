"""Run the ``schemabus`` command line with one pause in the middle, so that a test can stop a real
server while the command runs.

    python pausing_cli.py MODULE:ATTRIBUTE COUNT schemabus-arguments...

Once ``MODULE.ATTRIBUTE`` (a function, or ``Class.method``) has returned ``COUNT`` times, this prints
``paused`` on stdout and waits for a line on stdin; then the command goes on as usual.
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import Any


def main() -> None:
    target, count, *args = sys.argv[1:]
    module_name, _, attribute = target.partition(":")
    *path, name = attribute.split(".")
    owner: Any = importlib.import_module(module_name)
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    returned = 0

    @functools.wraps(original)
    def pausing(*a: Any, **kw: Any) -> Any:
        nonlocal returned
        result = original(*a, **kw)
        returned += 1
        if returned == int(count):
            print("paused", flush=True)
            sys.stdin.readline()
        return result

    setattr(owner, name, pausing)
    from schemabus.codegen.cli import main as schemabus

    schemabus(args, prog_name="schemabus")


if __name__ == "__main__":
    main()
