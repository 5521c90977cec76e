"""Reusable value translators for mapping modules.

Each is a `Translator(to_backend, to_scim)`. A value that can't be
translated raises `TranslationError`, which the engine turns into a SCIM 400
naming the attribute: a mapping never guesses.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.backend.records import STATUS_ACTIVE, STATUS_DEACTIVATED
from gateway.mapping.fields import TranslationError, Translator
from gateway.mapping.ids import from_scim_id, to_scim_id


def _active_to_backend(value: Any) -> str:
    if not isinstance(value, bool):
        raise TranslationError("must be true or false")
    return STATUS_ACTIVE if value else STATUS_DEACTIVATED


# SCIM `active` (boolean) ⇄ employee `status`.
ACTIVE_STATUS = Translator(_active_to_backend, lambda status: status == STATUS_ACTIVE)


def _user_ref_to_backend(value: Any) -> int:
    backend_id = from_scim_id(value)
    if backend_id is None:
        raise TranslationError("not the id of a user")
    return backend_id


# A SCIM user id (manager.value) ⇄ a backend employee id; reads also carry manager.$ref.
USER_REFERENCE = Translator(_user_ref_to_backend, to_scim_id, references="User")


def table(codes: dict[str, str], *, case_insensitive: bool = True) -> Translator:
    """Translate through a fixed table both ways (e.g. department codes ⇄ names).

    A value missing from the table is refused, not passed through.
    """
    forward = {(k.casefold() if case_insensitive else k): v for k, v in codes.items()}
    if len(forward) != len(codes):
        raise ValueError("table(): two codes differ only in case; with case_insensitive=True "
                         "one would silently shadow the other")
    backward = {v: k for k, v in codes.items()}
    if len(backward) != len(codes):
        raise ValueError("table(): two codes translate to the same value; it can't be reversed")

    def to_backend(value: Any) -> str:
        key = value.casefold() if case_insensitive and isinstance(value, str) else value
        if key not in forward:
            raise TranslationError("not one of " + ", ".join(sorted(codes)))
        return forward[key]

    def to_scim(value: Any) -> Any:
        # A value set in Workstream directly may be outside the table: show it as it is.
        return backward.get(value, value)

    return Translator(to_backend, to_scim)


_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?$")


def _locale_to_backend(value: Any) -> str:
    if not isinstance(value, str) or not (m := _LOCALE.match(value)):
        raise TranslationError("not a locale such as en-US")
    lang, script, region = m.groups()
    parts = [lang.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


# `en_US`, `EN-us` → `en-US` (BCP 47); read back as stored.
LOCALE_BCP47 = Translator(_locale_to_backend, lambda v: v)


def _phone_to_backend(value: Any) -> str:
    if not isinstance(value, str):
        raise TranslationError("must be a string")
    digits = re.sub(r"[^\d+]", "", value)
    if digits.count("+") > (1 if digits.startswith("+") else 0) or len(digits.lstrip("+")) < 4:
        raise TranslationError("not a phone number")
    return digits


# Phone numbers normalised to digits with an optional leading `+`.
PHONE_DIGITS = Translator(_phone_to_backend, lambda v: v)
