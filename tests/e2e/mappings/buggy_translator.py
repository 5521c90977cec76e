"""A mapping module with a broken translator (a bug, not bad input): used by the tests only."""

from gateway.mapping import Field, Translator
from mappings.default import USER as DEFAULT


def _lookup_that_forgot_a_key(value: object) -> str:
    return {"known": "Known"}[str(value)]  # KeyError for anything else: the bug


USER = DEFAULT.extend(Field("title", "title", translate=Translator(_lookup_that_forgot_a_key,
                                                                    lambda v: v)))
