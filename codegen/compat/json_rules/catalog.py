"""The rules of JSON Schema compatibility: Confluent's ``Difference.Type`` names, which of them never
break a reader (:data:`COMPATIBLE_CHANGES`), and a purpose for each one that does."""

from __future__ import annotations

from dataclasses import dataclass

from ...diagnostics import Source
from ..findings import Rule, rule

COMPATIBLE_CHANGES: frozenset[str] = frozenset(
    {
        # Confluent's SchemaDiff.COMPATIBLE_CHANGES: changes that never stop a reader.
        "ID_CHANGED",
        "DESCRIPTION_CHANGED",
        "TITLE_CHANGED",
        "DEFAULT_CHANGED",
        "SCHEMA_REMOVED",
        "TYPE_EXTENDED",
        "MAX_LENGTH_INCREASED",
        "MAX_LENGTH_REMOVED",
        "MIN_LENGTH_DECREASED",
        "MIN_LENGTH_REMOVED",
        "PATTERN_REMOVED",
        "MAXIMUM_INCREASED",
        "MAXIMUM_REMOVED",
        "MINIMUM_DECREASED",
        "MINIMUM_REMOVED",
        "EXCLUSIVE_MAXIMUM_INCREASED",
        "EXCLUSIVE_MAXIMUM_REMOVED",
        "EXCLUSIVE_MINIMUM_DECREASED",
        "EXCLUSIVE_MINIMUM_REMOVED",
        "MULTIPLE_OF_REDUCED",
        "MULTIPLE_OF_REMOVED",
        "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
        "REQUIRED_ATTRIBUTE_REMOVED",
        "DEPENDENCY_ARRAY_NARROWED",
        "DEPENDENCY_ARRAY_REMOVED",
        "DEPENDENCY_SCHEMA_REMOVED",
        "MAX_PROPERTIES_INCREASED",
        "MAX_PROPERTIES_REMOVED",
        "MIN_PROPERTIES_DECREASED",
        "MIN_PROPERTIES_REMOVED",
        "ADDITIONAL_PROPERTIES_ADDED",
        "ADDITIONAL_PROPERTIES_EXTENDED",
        "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
        "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
        "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "MAX_ITEMS_INCREASED",
        "MAX_ITEMS_REMOVED",
        "MIN_ITEMS_DECREASED",
        "MIN_ITEMS_REMOVED",
        "UNIQUE_ITEMS_REMOVED",
        "ADDITIONAL_ITEMS_ADDED",
        "ADDITIONAL_ITEMS_EXTENDED",
        "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
        "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
        "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
        "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "ENUM_ARRAY_EXTENDED",
        "COMBINED_TYPE_EXTENDED",
        "PRODUCT_TYPE_NARROWED",
        "SUM_TYPE_EXTENDED",
        "NOT_TYPE_NARROWED",
    }
)

RULES: dict[str, Rule] = {}


def _rule(id: str, purpose: str) -> str:
    RULES[id] = rule(id, "JSON", purpose)
    return id


# The incompatible Difference.Types this module reports, each with what it protects.
SCHEMA_ADDED = _rule("SCHEMA_ADDED", "A reader does not constrain with a new subschema what the writer left free.")
TYPE_CHANGED = _rule("TYPE_CHANGED", "A reader keeps accepting the kind of value the writer writes.")
TYPE_NARROWED = _rule("TYPE_NARROWED", "A reader does not demand integers where the writer writes any number.")
MAX_LENGTH_ADDED = _rule("MAX_LENGTH_ADDED", "A reader does not cap string length the writer left uncapped.")
MAX_LENGTH_DECREASED = _rule("MAX_LENGTH_DECREASED", "A reader accepts strings as long as the writer allows.")
MIN_LENGTH_ADDED = _rule("MIN_LENGTH_ADDED", "A reader does not demand a minimum string length the writer lacks.")
MIN_LENGTH_INCREASED = _rule("MIN_LENGTH_INCREASED", "A reader accepts strings as short as the writer allows.")
PATTERN_ADDED = _rule("PATTERN_ADDED", "A reader does not demand a pattern the writer's strings need not match.")
PATTERN_CHANGED = _rule("PATTERN_CHANGED", "A reader's pattern still matches the writer's strings.")
MAXIMUM_ADDED = _rule("MAXIMUM_ADDED", "A reader does not cap numbers the writer left uncapped.")
MAXIMUM_DECREASED = _rule("MAXIMUM_DECREASED", "A reader accepts numbers as large as the writer allows.")
MINIMUM_ADDED = _rule("MINIMUM_ADDED", "A reader does not set a lower bound the writer lacks.")
MINIMUM_INCREASED = _rule("MINIMUM_INCREASED", "A reader accepts numbers as small as the writer allows.")
EXCLUSIVE_MAXIMUM_ADDED = _rule("EXCLUSIVE_MAXIMUM_ADDED", "A reader does not cap numbers the writer left uncapped.")
EXCLUSIVE_MAXIMUM_DECREASED = _rule(
    "EXCLUSIVE_MAXIMUM_DECREASED", "A reader accepts numbers as large as the writer allows."
)
EXCLUSIVE_MINIMUM_ADDED = _rule("EXCLUSIVE_MINIMUM_ADDED", "A reader does not set a lower bound the writer lacks.")
EXCLUSIVE_MINIMUM_INCREASED = _rule(
    "EXCLUSIVE_MINIMUM_INCREASED", "A reader accepts numbers as small as the writer allows."
)
MULTIPLE_OF_ADDED = _rule("MULTIPLE_OF_ADDED", "A reader does not demand a multiple the writer's numbers need not be.")
MULTIPLE_OF_EXPANDED = _rule("MULTIPLE_OF_EXPANDED", "A reader's multipleOf still divides the writer's numbers.")
MULTIPLE_OF_CHANGED = _rule("MULTIPLE_OF_CHANGED", "A reader's multipleOf still divides the writer's numbers.")
REQUIRED_ATTRIBUTE_ADDED = _rule(
    "REQUIRED_ATTRIBUTE_ADDED", "A reader does not require, without a default, a property the writer may omit."
)
MAX_PROPERTIES_ADDED = _rule("MAX_PROPERTIES_ADDED", "A reader does not cap the property count the writer left free.")
MAX_PROPERTIES_DECREASED = _rule("MAX_PROPERTIES_DECREASED", "A reader accepts as many properties as the writer.")
MIN_PROPERTIES_ADDED = _rule("MIN_PROPERTIES_ADDED", "A reader does not demand a property count the writer lacks.")
MIN_PROPERTIES_INCREASED = _rule("MIN_PROPERTIES_INCREASED", "A reader accepts as few properties as the writer.")
ADDITIONAL_PROPERTIES_REMOVED = _rule(
    "ADDITIONAL_PROPERTIES_REMOVED", "A reader does not forbid additional properties the writer allowed."
)
ADDITIONAL_PROPERTIES_NARROWED = _rule(
    "ADDITIONAL_PROPERTIES_NARROWED", "A reader does not constrain additional properties the writer left free."
)
DEPENDENCY_ARRAY_ADDED = _rule("DEPENDENCY_ARRAY_ADDED", "A reader does not add a property dependency.")
DEPENDENCY_ARRAY_EXTENDED = _rule("DEPENDENCY_ARRAY_EXTENDED", "A reader does not make a dependency demand more.")
DEPENDENCY_ARRAY_CHANGED = _rule("DEPENDENCY_ARRAY_CHANGED", "A reader does not make a dependency demand others.")
DEPENDENCY_SCHEMA_ADDED = _rule("DEPENDENCY_SCHEMA_ADDED", "A reader does not add a schema dependency.")
PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL = _rule(
    "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
    "A reader does not constrain a property the writer's open content model let hold any value.",
)
REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL = _rule(
    "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "A reader does not add, as required and without a default, a property the writer's data lacks.",
)
PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL = _rule(
    "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "A reader that allows no additional properties keeps every property the writer writes.",
)
PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = _rule(
    "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A property a reader no longer declares is still accepted by its additional or pattern properties.",
)
PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = _rule(
    "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A property a reader adds accepts what the writer's additional or pattern properties allowed for it.",
)
MAX_ITEMS_ADDED = _rule("MAX_ITEMS_ADDED", "A reader does not cap array length the writer left uncapped.")
MAX_ITEMS_DECREASED = _rule("MAX_ITEMS_DECREASED", "A reader accepts arrays as long as the writer allows.")
MIN_ITEMS_ADDED = _rule("MIN_ITEMS_ADDED", "A reader does not demand a minimum array length the writer lacks.")
MIN_ITEMS_INCREASED = _rule("MIN_ITEMS_INCREASED", "A reader accepts arrays as short as the writer allows.")
UNIQUE_ITEMS_ADDED = _rule("UNIQUE_ITEMS_ADDED", "A reader does not demand unique items the writer may repeat.")
ADDITIONAL_ITEMS_REMOVED = _rule(
    "ADDITIONAL_ITEMS_REMOVED", "A reader does not forbid tuple items beyond its own that the writer allowed."
)
ADDITIONAL_ITEMS_NARROWED = _rule(
    "ADDITIONAL_ITEMS_NARROWED", "A reader does not constrain additional tuple items the writer left free."
)
ITEM_ADDED_TO_OPEN_CONTENT_MODEL = _rule(
    "ITEM_ADDED_TO_OPEN_CONTENT_MODEL",
    "A reader does not constrain a tuple position the writer's open content model let hold any value.",
)
ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL = _rule(
    "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "A reader that allows no additional items keeps every tuple position the writer writes.",
)
ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = _rule(
    "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A tuple position a reader drops is still accepted by its additional items schema.",
)
ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = _rule(
    "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A tuple position a reader adds accepts what the writer's additional items schema allowed there.",
)
ENUM_ARRAY_NARROWED = _rule("ENUM_ARRAY_NARROWED", "A reader accepts every enum value the writer may write.")
ENUM_ARRAY_CHANGED = _rule("ENUM_ARRAY_CHANGED", "A reader accepts every enum or const value the writer may write.")
COMBINED_TYPE_CHANGED = _rule(
    "COMBINED_TYPE_CHANGED", "A reader does not switch allOf/anyOf/oneOf to a stricter criterion."
)
PRODUCT_TYPE_EXTENDED = _rule("PRODUCT_TYPE_EXTENDED", "A reader does not add subschemas to an allOf.")
SUM_TYPE_NARROWED = _rule("SUM_TYPE_NARROWED", "A reader does not drop alternatives from an anyOf/oneOf.")
COMBINED_TYPE_SUBSCHEMAS_CHANGED = _rule(
    "COMBINED_TYPE_SUBSCHEMAS_CHANGED", "Each of the writer's alternatives has a compatible one in the reader."
)
NOT_TYPE_EXTENDED = _rule("NOT_TYPE_EXTENDED", "A reader's not-schema does not exclude values the writer allowed.")


@dataclass(frozen=True)
class Difference:
    """One change between a writer's and a reader's schema, compatible or not (Confluent's
    ``Difference``): ``type`` is the ``Difference.Type`` name."""

    type: str
    source: Source
    message: str

    @property
    def compatible(self) -> bool:
        return self.type in COMPATIBLE_CHANGES
