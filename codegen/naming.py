"""Every string from input reaches generated code through this module, and only through it.

A schema is data, never code. Each place a generated file can hold input text has one function:

* :func:`identifier` (and :func:`field_name`, :func:`class_name`, :func:`enum_member`, :func:`snake`,
  :func:`pascal`, :func:`constant`): a Python name. Wire names may be keywords, builtins used in
  annotations, pydantic's own attributes (``model_config``, ``json``), or not identifiers at all
  (``2fa-code``); they become safe names, and the wire name is kept as data (a field alias).
  Names are compared as Python compares them, after NFKC normalisation (:func:`python_name`).
* :func:`literal`: a Python expression for a value (str, bytes, numbers including NaN and
  infinities, None, booleans, lists, tuples and dicts of these).
* :func:`docstring`: a triple-quoted string literal laid out as a docstring.
* :func:`comment`: the text of a ``#`` comment, on one line.

Templates print only what these functions return (and names they computed): never raw input.
"""

from __future__ import annotations

import keyword
import math
import re
import unicodedata
from collections.abc import Set as AbstractSet

import pydantic

# Names a field may not take: they would shadow something the generated class body or pydantic needs.
_BUILTINS_IN_ANNOTATIONS = frozenset(
    {"int", "str", "float", "bool", "bytes", "list", "dict", "set", "tuple", "object", "type", "None", "Any"}
)
# Names a class may not take either: builtins the generated modules call, and the codecs' imports.
_CODEC_NAMES = frozenset(
    {
        "len",
        "range",
        "isinstance",
        "frozenset",
        "tuple",
        "classmethod",
        "ValueError",
        "TypeError",
        "KeyError",
        "NotImplementedError",
        "AvroSerde",
        # the parameters and locals of generated codecs (with x1, x2, ...: see class_name)
        "b",
        "v",
        "p",
        "buf",
    }
)
_PYDANTIC_ATTRIBUTES = frozenset(n for n in dir(pydantic.BaseModel) if not n.startswith("__"))
_ENUM_RESERVED = frozenset({"name", "value", "mro"})
_FIELD_RESERVED = _BUILTINS_IN_ANNOTATIONS | _PYDANTIC_ATTRIBUTES
_CLASS_RESERVED = _BUILTINS_IN_ANNOTATIONS | _CODEC_NAMES


# --- identifiers -----------------------------------------------------------------------------


def python_name(name: str) -> str:
    """The name Python sees for ``name``: identifiers are NFKC-normalised when code is parsed, so
    ``ﬁeld`` and ``field`` (or full-width ``ｉｆ`` and ``if``) are the same name. Compare and
    collect names in this form."""
    return unicodedata.normalize("NFKC", name)


def identifier(text: str, *, ascii_only: bool = True) -> str:
    """Turn any text into a valid identifier, in the form Python reads it (NFKC).

    Characters that cannot be part of a name become ``_``; a leading digit gets ``field_``. With
    ``ascii_only`` (the default), every non-ASCII character is replaced too; otherwise Unicode
    letters stay, normalised, so two different inputs may give one name: make names unique with
    a ``used`` set of :func:`python_name` forms (see :func:`unique`).
    """
    out = python_name(text)
    if ascii_only:
        out = re.sub(r"\W", "_", out, flags=re.ASCII)
    else:
        out = "".join(c if ("a" + c).isidentifier() else "_" for c in out)
        out = python_name(out)  # normalisation can produce characters names may not hold: again
        out = "".join(c if ("a" + c).isidentifier() else "_" for c in out)
    if not out:
        out = "field"
    if not out[0].isidentifier():  # a digit, or a character that may only continue a name
        out = "field_" + out
    return out


def _avoid(name: str, taken: tuple[AbstractSet[str], ...]) -> str:
    while (
        keyword.iskeyword(name)
        or (keyword.issoftkeyword(name) and name == "_")
        or any(python_name(name) in names for names in taken)
    ):
        name += "_"
    return name


def unique(name: str, used: set[str], *reserved: AbstractSet[str]) -> str:
    """``name`` (an identifier) made distinct, as Python compares names, from ``used``, every set of
    ``reserved`` and the keywords, with trailing ``_``; the result is added to ``used``. For any
    generator that turns several inputs into names of one namespace (the JSON side too)."""
    out = _avoid(python_name(name), (used, *reserved))
    used.add(python_name(out))
    return out


def field_name(wire: str, module_names: AbstractSet[str], used: set[str], *, ascii_only: bool = True) -> str:
    """The Python attribute for a record field; ``used`` collects the names already given in the class.
    Avro names are ASCII; JSON property names keep their letters (``ascii_only=False``)."""
    name = identifier(wire, ascii_only=ascii_only)
    if name.startswith("_"):  # pydantic treats underscore names as private attributes, not fields
        name = "field" + name
    return unique(name, used, _FIELD_RESERVED, module_names)


def class_name(name: str, taken: set[str]) -> str:
    """A class (or public type alias) name for a named type; ``taken`` collects the names used in
    the module. It never starts with ``_``: the generated modules keep those for their own helpers."""
    out = identifier(name)
    if out.startswith("_") or re.fullmatch(r"x\d+", out):  # private, or a codec's temporary
        out = "M" + out
    return unique(out, taken, _CLASS_RESERVED)


def enum_member(symbol: str, used: set[str]) -> str:
    name = identifier(symbol)
    if name.startswith("_"):  # enum treats _sunder_ and private names specially
        name = "M" + name
    return unique(name, used, _ENUM_RESERVED)


def snake(name: str) -> str:
    """``AgentCreated`` / ``agent.lifecycle.created`` -> ``agent_created`` / ``agent_lifecycle_created``."""
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return identifier(s.replace(".", "_").replace("-", "_")).lower()


def pascal(name: str) -> str:
    """``agent.lifecycle.created`` -> ``AgentLifecycleCreated``."""
    parts = re.split(r"[^A-Za-z0-9]+", name)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return identifier(out or "Model")


def constant(name: str) -> str:
    """``agent.lifecycle.created`` -> ``AGENT_LIFECYCLE_CREATED``."""
    return snake(name).upper()


# --- literals, docstrings, comments ----------------------------------------------------------

# Above this many digits ``repr`` of an int raises (sys.get_int_max_str_digits); hex has no limit.
_MAX_DECIMAL_DIGITS = 4000


def wrapped_literal(text: str, width: int = 88) -> list[str]:
    """``text`` as string literals of about ``width`` characters of it each, breaking after a comma or
    a space where there is one near the end: a long schema text prints one line per piece inside parentheses
    (Python joins adjacent literals into the same string)."""
    pieces, start = [], 0
    while len(text) - start > width:
        end = start + width
        cut = max(text.rfind(",", start + width // 2, end), text.rfind(" ", start + width // 2, end))
        end = cut + 1 if cut != -1 else end
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return [repr(piece) for piece in pieces]


def literal(value: object) -> str:
    """A Python expression that evaluates to ``value``, whatever text it holds.

    Strings and bytes are ``repr``s (every quote, backslash, line break and invisible character
    escaped); NaN and infinities are ``float("nan")`` / ``float("inf")`` / ``-float("inf")``;
    lists, tuples and dicts are literals of literals. Anything else is a bug of the caller (TypeError).
    """
    if value is None or isinstance(value, (bool, str, bytes)):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if len(hex(value)) < _MAX_DECIMAL_DIGITS else hex(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else '-float("inf")'
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return f"({literal(value[0])},)" if len(value) == 1 else "(" + ", ".join(literal(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Python literal for a {type(value).__name__}")


def string_literal(text: str) -> str:
    """A Python string literal for ``text`` (see :func:`literal`)."""
    if not isinstance(text, str):
        raise TypeError(f"expected a str, not a {type(text).__name__}")
    return literal(text)


def _escape_char(c: str) -> str:
    """``\\n``, ``\\x85``, ``\\u2028``, ``\\ud800``: the escape Python would write for ``c``."""
    return c.encode("unicode_escape", "backslashreplace").decode("ascii")


def _printable(text: str, keep: str = "", shown: bool = False) -> str:
    """``text`` with a backslash and every character that is not printable (line breaks of any
    kind, controls, format characters such as bidi overrides, lone surrogates) escaped, but ``keep``.
    With ``shown``, the escapes are text themselves (``\\x00`` in a string literal)."""
    lead = "\\" if shown else ""
    return "".join(
        c if (c.isprintable() and c != "\\") or c in keep else "\\\\" if c == "\\" else lead + _escape_char(c)
        for c in text
    )


def comment(text: str) -> str:
    """``text`` for the body of a ``#`` comment: one line of printable characters. Line breaks
    (``\\n``, ``\\r``, U+2028, U+0085...), controls and invisible characters are written as their
    escapes, and so is a backslash, so the comment shows exactly what the text held."""
    return _printable(text)


def docstring(text: str, indent: str = "    ") -> str:
    """A triple-quoted literal for ``text`` laid out as a docstring, whatever ``text`` holds.

    Line breaks stay line breaks and tabs stay tabs; every other invisible character shows as its
    escape (the docstring holds the text ``\\u2028``: a class's docstring must be valid UTF-8, which
    a lone surrogate is not); backslashes are escaped, and so is every quote that could end the
    literal: each of a run of two or more, and a last one. Continuation lines are indented as
    Python docstrings are.
    """
    s = _printable(text, keep="\n\t", shown=True)

    def quotes(m: re.Match[str]) -> str:
        run = m.group()
        if len(run) > 1 or m.end() == len(s):
            return '\\"' * len(run)
        return run

    s = re.sub(r'"+', quotes, s)
    lines = s.split("\n")
    if len(lines) == 1:
        return f'"""{s}"""'
    return '"""' + lines[0] + "\n" + "\n".join((indent + ln) if ln else "" for ln in lines[1:]) + "\n" + indent + '"""'
