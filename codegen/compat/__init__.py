"""Schema compatibility with Confluent Schema Registry's semantics, for Avro and JSON Schema.

Rules are small units (``avro_rules``, ``json_rules``): each has an ID, a one-line purpose and
fixture tests, and reports :class:`Finding` values. ``levels`` turns a compatibility level
(BACKWARD, FORWARD, FULL and their transitive forms) into reader/writer checks between versions.
"""
