"""The real registry and the in-memory one refuse the same schema edit with the same error: an
:class:`IncompatibleSchemaError` naming the subject (the real registry's HTTP 409 through
ConfluentRegistry), and both accept the compatible edit."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from schemabus.runtime import IncompatibleSchemaError
from schemabus.runtime.registry_client import ConfluentRegistry
from schemabus.runtime.testing import InMemoryRegistry

pytestmark = pytest.mark.integration


def _record(*fields: dict[str, Any]) -> str:
    return json.dumps({"type": "record", "name": "Order", "fields": [{"name": "id", "type": "string"}, *fields]})


def test_both_registries_refuse_an_incompatible_edit_alike(registry: ConfluentRegistry) -> None:
    subject = f"refusal-{uuid.uuid4().hex[:12]}-value"
    memory = InMemoryRegistry()
    registry.client.set_compatibility(subject_name=subject, level="BACKWARD")
    memory.set_compatibility(subject, "BACKWARD")
    for target in (registry, memory):
        target.register_schema(subject, _record(), "AVRO")

    breaking = _record({"name": "qty", "type": "int"})
    refusals = []
    for target in (registry, memory):
        with pytest.raises(IncompatibleSchemaError) as refused:
            target.register_schema(subject, breaking, "AVRO")
        refusals.append(refused.value)
    real, in_memory = refusals
    assert (real.subject, real.http_status) == (in_memory.subject, in_memory.http_status) == (subject, 409)
    prefix = f"the registry refused the schema of subject {subject!r} as incompatible"
    assert str(real).startswith(prefix) and str(in_memory).startswith(prefix + " at level BACKWARD: ")
    assert 'field "qty" has no default' in str(in_memory)

    evolved = _record({"name": "qty", "type": "int", "default": 0})
    assert registry.register_schema(subject, evolved, "AVRO") > 0
    assert memory.register_schema(subject, evolved, "AVRO") > 0
