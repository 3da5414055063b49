"""The compile check of generated modules, in pieces on several cores (pipeline.compile_check): it
refuses exactly what compiling each whole module refuses, with the same message."""

from __future__ import annotations

import pytest

from schemabus.codegen import pipeline
from schemabus.codegen.diagnostics import SchemaError

HEAD = '"""A module."""\n\nfrom __future__ import annotations\n\nimport typing as _t\n\n'


def _module(*bodies: str) -> str:
    return HEAD + "".join(f"def f{i}(x: int) -> int:\n{body}\n\n" for i, body in enumerate(bodies))


VALID = "    y = x + 1\n" * 40 + "    return y\n"


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Modules of a few kB are checked in pieces, by this process and two workers."""
    monkeypatch.setattr(pipeline, "PARALLEL_FROM", 2000)
    monkeypatch.setattr(pipeline, "_cores", lambda: 3)


def _error(text: str) -> str:
    with pytest.raises(SchemaError) as e:
        pipeline.compile_check({"mod.py": text})
    return str(e.value)


def test_pieces_are_the_module_cut_before_definitions_with_its_future_features() -> None:
    text = _module(*[VALID] * 30) + "@_t.final\nclass C:\n    pass\n"
    pieces = pipeline.pieces(text, 2000)
    assert len(pieces) > 3 and "".join(p for p, _ in pieces) == text
    assert pieces[0][0].startswith(HEAD) and pieces[0][1] == 0
    annotations = pipeline.__future__.annotations.compiler_flag
    assert all(flags == annotations and p.startswith(("def ", "@")) for p, flags in pieces[1:])
    one_each = pipeline.pieces(text, 1)  # a piece for each definition
    assert len(one_each) == 31 and one_each[-1][0] == "@_t.final\nclass C:\n    pass\n"  # with its decorator
    without_future = text.replace("from __future__ import annotations\n", "")
    assert {flags for _, flags in pipeline.pieces(without_future, 2000)} == {0}
    assert pipeline.pieces(text, len(text)) == [(text, 0)]


@pytest.mark.usefixtures("parallel")
@pytest.mark.parametrize("where", [0, 7, 29])
def test_an_error_in_any_piece_is_the_whole_modules_error(where: int) -> None:
    bodies = [VALID] * 30
    bodies[where] = "    return )\n"
    text = _module(*bodies)
    expected = _whole_module_error(text)
    assert f"line {text.splitlines().index('    return )') + 1}" in expected
    assert _error(text) == expected


@pytest.mark.usefixtures("parallel")
def test_a_worker_finds_errors_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "_compiles", lambda rel, text, flags: True)  # this process finds nothing
    bodies = [VALID] * 30
    bodies[20] = "    return )\n"
    text = _module(*bodies)
    assert _error(text) == _whole_module_error(text)


@pytest.mark.usefixtures("parallel")
def test_pieces_compile_with_the_modules_future_features() -> None:
    # With `from __future__ import annotations`, a yield in an annotation is an error; without, not.
    bodies = [VALID] * 30
    bodies[25] = "    z: (yield) = 1\n    return x\n"
    text = _module(*bodies)
    assert "'yield expression' can not be used within an annotation" in _error(text)
    pipeline.compile_check({"mod.py": text.replace("from __future__ import annotations\n", "")})


@pytest.mark.usefixtures("parallel")
def test_a_cut_inside_a_string_costs_time_not_correctness() -> None:
    # A line that starts with "def " inside a string is cut before: the piece before it does not
    # compile alone, so the module is compiled whole, and it is valid.
    inside = 'TEXT = """\n' + "def looks_like_code():\n    pass\n" * 200 + '"""\n\n'
    text = _module(*[VALID] * 10) + inside + _module(*[VALID] * 10)[len(HEAD) :]
    assert len(pipeline.pieces(text, 1000)) > 2
    pipeline.compile_check({"mod.py": text})


@pytest.mark.usefixtures("parallel")
@pytest.mark.parametrize("program", ["/bin/false", "/bin/true", "/no/such/program"])
def test_a_worker_that_does_not_compile_leaves_its_share_to_this_process(
    monkeypatch: pytest.MonkeyPatch, program: str
) -> None:
    monkeypatch.setattr(pipeline.sys, "executable", program)
    pipeline.compile_check({"mod.py": _module(*[VALID] * 30)})
    bodies = [VALID] * 30
    bodies[20] = "    return )\n"
    text = _module(*bodies)
    monkeypatch.setattr(pipeline, "_compiles", lambda rel, text, flags: True)
    assert _error(text) == _whole_module_error(text)


def _whole_module_error(text: str) -> str:
    with pytest.raises(SchemaError) as e:
        pipeline._compile_all({"mod.py": text}, pipeline._where)
    return str(e.value)
