"""What mapping modules import: fields, mapping builders, translators, schema helpers."""

from gateway.mapping.derived import joined
from gateway.mapping.extensions import custom_extension
from gateway.mapping.fields import Computed, Field, MappingError, TranslationError, Translator
from gateway.mapping.resource_mapping import GroupMapping, ResourceMapping, UserMapping
from gateway.scim.schema import CORE_USER, ENTERPRISE_USER, Attribute, Schema

ENTERPRISE = ENTERPRISE_USER
CORE = CORE_USER

__all__ = [
    "CORE",
    "ENTERPRISE",
    "Attribute",
    "Computed",
    "Field",
    "GroupMapping",
    "MappingError",
    "ResourceMapping",
    "Schema",
    "TranslationError",
    "Translator",
    "UserMapping",
    "custom_extension",
    "joined",
]
