"""``schemabus import pydantic``: existing Pydantic v2 models in, Avro or JSON Schema files out
(README, "Importing Pydantic models").

The same shape as generation, the other way round: ``resolve`` finds the model classes;
``constraints`` reads a field's constraints from its metadata; ``avro_types`` maps models to records
and each annotation to an Avro type (one function per type family), every named type defined once,
and ``avro_defaults`` each Python default to its Avro JSON form; ``json_schema`` cleans pydantic's own
JSON Schema for a registry; ``plan`` makes the whole result, ``{path: text}`` plus catalog entries, as
a pure value that ``cli`` writes.
"""
