"""Well-formedness of BCP 47 language tags (RFC 5646 §2.1 ABNF).

The contract only says `locale` is "a BCP 47 tag such as en-US"; checking the
grammar (not each subtag against the IANA registry) is what a validator can do
without shipping the registry, and it is enough to reject `en_US` or `English`.
"""

from __future__ import annotations

import re

_ALNUM = "[A-Za-z0-9]"
# The ABNF also allows 4- and 5-to-8-letter primary languages, but those are
# reserved and the registry holds none, so they are never valid (`English`).
_LANGUAGE = r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3})"
_SCRIPT = r"(?:-[A-Za-z]{4})?"
_REGION = r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
_VARIANT = rf"(?:-(?:{_ALNUM}{{5,8}}|[0-9]{_ALNUM}{{3}}))*"
_EXTENSION = rf"(?:-[0-9A-WYZa-wyz](?:-{_ALNUM}{{2,8}})+)*"
_PRIVATE = rf"(?:-[Xx](?:-{_ALNUM}{{1,8}})+)?"
_LANGTAG = f"{_LANGUAGE}{_SCRIPT}{_REGION}{_VARIANT}{_EXTENSION}{_PRIVATE}"
_PRIVATE_ONLY = rf"[Xx](?:-{_ALNUM}{{1,8}})+"

_GRANDFATHERED = frozenset(
    tag.lower()
    for tag in [
        "en-GB-oed",
        "i-ami",
        "i-bnn",
        "i-default",
        "i-enochian",
        "i-hak",
        "i-klingon",
        "i-lux",
        "i-mingo",
        "i-navajo",
        "i-pwn",
        "i-tao",
        "i-tay",
        "i-tsu",
        "sgn-BE-FR",
        "sgn-BE-NL",
        "sgn-CH-DE",
        "art-lojban",
        "cel-gaulish",
        "no-bok",
        "no-nyn",
        "zh-guoyu",
        "zh-hakka",
        "zh-min",
        "zh-min-nan",
        "zh-xiang",
    ]
)

_TAG = re.compile(f"(?:{_LANGTAG}|{_PRIVATE_ONLY})", re.ASCII)


def is_language_tag(text: str) -> bool:
    """True when `text` is a well-formed BCP 47 tag (case-insensitive)."""
    return text.lower() in _GRANDFATHERED or _TAG.fullmatch(text) is not None
