"""``schemabus import pydantic``: existing Pydantic v2 models in, Avro or JSON Schema files out
(README, "Importing Pydantic models").

The same shape as generation, the other way round: ``resolve`` finds the model classes,
``avro_types`` maps each annotation to an Avro type (one function per type family) and
``avro_defaults`` each Python default to its Avro JSON form, ``avro_schema`` turns models into
records with every named type defined once, ``json_schema`` cleans pydantic's own JSON Schema for a
registry, and ``plan`` makes the whole result, ``{path: text}`` plus catalog entries, as a pure value
that ``cli`` writes.
"""
