"""Every Python identifier the generator writes is made here, and only here.

A schema is data, never code: wire names may be Python keywords, builtins used in annotations,
pydantic's own attributes (``model_config``, ``json``, ``schema``), or not identifiers at all
(``2fa-code``). They become safe Python names; the wire name is kept as the field's alias.
"""

from __future__ import annotations

import keyword
import re

import pydantic

# Names a field may not take: they would shadow something the generated class body or pydantic needs.
_BUILTINS_IN_ANNOTATIONS = frozenset(
    {"int", "str", "float", "bool", "bytes", "list", "dict", "set", "tuple", "object", "type", "None", "Any"}
)
# Names a class may not take either: the generated codecs module calls these.
_CODEC_NAMES = frozenset({"len", "range", "isinstance", "frozenset", "AvroSerde"})
_PYDANTIC_ATTRIBUTES = frozenset(n for n in dir(pydantic.BaseModel) if not n.startswith("__"))
_ENUM_RESERVED = frozenset({"name", "value", "mro"})


def identifier(text: str) -> str:
    """Turn any text into a valid identifier: other characters become ``_``, a leading digit gets ``field_``."""
    out = re.sub(r"\W", "_", text, flags=re.ASCII)
    if not out:
        out = "field"
    if out[0].isdigit():
        out = "field_" + out
    return out


def _avoid(name: str, taken: set[str] | frozenset[str]) -> str:
    while keyword.iskeyword(name) or (keyword.issoftkeyword(name) and name == "_") or name in taken:
        name += "_"
    return name


def field_name(wire: str, module_names: frozenset[str], used: set[str]) -> str:
    """The Python attribute for a record field; ``used`` collects the names already given in the class."""
    name = identifier(wire)
    if name.startswith("_"):  # pydantic treats underscore names as private attributes, not fields
        name = "field" + name
    name = _avoid(name, _BUILTINS_IN_ANNOTATIONS | _PYDANTIC_ATTRIBUTES | module_names | used)
    used.add(name)
    return name


def class_name(name: str, taken: set[str]) -> str:
    """A class name for a named type; ``taken`` collects the names already used in the module."""
    out = _avoid(identifier(name), _BUILTINS_IN_ANNOTATIONS | _CODEC_NAMES | taken)
    taken.add(out)
    return out


def enum_member(symbol: str, used: set[str]) -> str:
    name = _avoid(identifier(symbol), _ENUM_RESERVED | used)
    if name.startswith("_"):  # enum treats _sunder_ and private names specially
        name = "M" + name
    used.add(name)
    return name


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


def docstring(text: str, indent: str = "    ") -> str:
    """A safe triple-quoted docstring literal for ``text`` whatever it holds (quotes, backslashes, newlines).

    Continuation lines are indented as Python docstrings are; ``inspect.cleandoc`` gives ``text`` back.
    """
    s = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').replace("\r", "\\r")
    s = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", s)
    if s.endswith('"'):
        s = s[:-1] + '\\"'
    lines = s.split("\n")
    if len(lines) == 1:
        return f'"""{s}"""'
    return '"""' + lines[0] + "\n" + "\n".join((indent + ln) if ln else "" for ln in lines[1:]) + "\n" + indent + '"""'
