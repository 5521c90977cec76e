"""A mapping module for the audit tests: the default, with `title` marked sensitive."""

from gateway.mapping import Field
from mappings.default import GROUP as GROUP
from mappings.default import USER as DEFAULT_USER

USER = DEFAULT_USER.extend(Field("title", "title", sensitive=True))
