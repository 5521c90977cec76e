"""The blocks ops build modules from: custom_extension, joined, translators, the registry."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from gateway.mapping import (
    Attribute,
    Computed,
    Field,
    MappingError,
    TranslationError,
    UserMapping,
    custom_extension,
    joined,
)
from gateway.mapping.registry import MappingRegistry, load_module
from gateway.mapping.translators import LOCALE_BCP47, PHONE_DIGITS, table
from mappings.default import GROUP as DEFAULT_GROUP
from mappings.default import USER as DEFAULT_USER

ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

# ---- custom_extension ----


def test_custom_extension_makes_string_attributes_from_names():
    schema = custom_extension(ACME, "Acme", "costCode", "badge")
    assert schema.id == ACME and schema.name == "Acme"
    assert [(a.name, a.type, a.multi_valued) for a in schema.attributes] == [
        ("costCode", "string", False), ("badge", "string", False)]
    doc = schema.to_scim()
    assert doc["attributes"][0]["mutability"] == "readWrite"


def test_custom_extension_takes_typed_attributes_too():
    schema = custom_extension(ACME, "Acme", Attribute("badgeNumber", "integer"))
    assert schema.attribute("badgenumber").type == "integer"


@pytest.mark.parametrize("urn,names,message", [
    ("acme:costCode", ("costCode",), "not a schema URN"),
    (f"{ACME}:", ("costCode",), "not a schema URN"),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", ("x",), "built-in"),
    ("urn:ietf:params:scim:schemas:core:2.0:User:acme", ("x",), "built-in"),
    (ACME, (), "at least one"),
    (ACME, ("cost code",), "not a SCIM attribute name"),
    (ACME, ("2fa",), "not a SCIM attribute name"),
    (ACME, ("costCode", "COSTCODE"), "named twice"),
])
def test_custom_extension_refuses_mistakes(urn: str, names: tuple, message: str):
    with pytest.raises(MappingError, match=message):
        custom_extension(urn, "Acme", *names)


# ---- joined ----


def test_joined_joins_the_present_values():
    full = joined("name.givenName", "name.familyName")
    assert full({"name": {"givenName": "Ada", "familyName": "Lovelace"}}) == "Ada Lovelace"
    assert full({"name": {"givenName": " Ada ", "familyName": ""}}) == "Ada"
    assert full({"userName": "x"}) is None


def test_joined_reads_extension_attributes_and_takes_a_separator():
    derive = joined("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                    "title", sep=" / ")
    resource = {"title": "Lead",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                    {"department": "R&D"}}
    assert derive(resource) == "R&D / Lead"


@pytest.mark.parametrize("paths", [("name.nickname",), ("emails",), ("active",), ()])
def test_joined_refuses_paths_it_cannot_join(paths: tuple):
    with pytest.raises(MappingError, match="joined"):
        joined(*paths)


# ---- Computed ----

RECORD = {"id": 7, "email": "ada@x.example", "first_name": "Ada", "last_name": "Lovelace",
          "display_name": "Countess of Lovelace", "status": "active", "lock_version": 1}


def test_formatted_name_is_computed_on_reads_and_never_written():
    scim = DEFAULT_USER.to_scim_attributes(RECORD)
    assert scim["name"]["formatted"] == "Ada Lovelace"
    sent = {**scim, "name": {**scim["name"], "formatted": "Ada, Countess of Lovelace"}}
    assert DEFAULT_USER.to_backend(sent, previous=scim) == DEFAULT_USER.to_backend(scim)
    # No names, nothing to compute: no empty formatted name either.
    assert "name" not in DEFAULT_USER.to_scim_attributes(
        {**RECORD, "first_name": None, "last_name": None})


def test_a_field_for_the_computed_path_replaces_the_computation():
    mapping = DEFAULT_USER.without("displayName").extend(Field("name.formatted", "display_name"))
    assert not mapping.computed
    assert mapping.to_scim_attributes(RECORD)["name"]["formatted"] == "Countess of Lovelace"
    sent = {"userName": "a@x.example", "name": {"givenName": "A", "familyName": "B",
                                                "formatted": "Dr A B"}}
    assert mapping.to_backend(sent)["display_name"] == "Dr A B"


def test_computed_attribute_can_be_dropped_or_recomputed_another_way():
    assert "formatted" not in DEFAULT_USER.without("name.formatted").to_scim_attributes(
        RECORD)["name"]
    surname_first = DEFAULT_USER.extend(
        Computed("name.formatted", joined("name.familyName", "name.givenName", sep=", ")))
    assert surname_first.to_scim_attributes(RECORD)["name"]["formatted"] == "Lovelace, Ada"
    assert len(surname_first.computed) == 1


@pytest.mark.parametrize("spec,message", [
    (Computed("name.nickname", joined("name.givenName")), "unknown SCIM attribute"),
    (Computed('emails[type eq "work"].value', joined("name.givenName")), "single-valued"),
    (Computed("emails", joined("name.givenName")), "name which element"),
])
def test_computed_attributes_that_cannot_be_one_value_are_refused(spec: Computed, message: str):
    with pytest.raises(MappingError, match=message):
        DEFAULT_USER.extend(spec)


def test_a_path_both_stored_and_computed_is_refused():
    with pytest.raises(MappingError, match="both mapped to a field and computed"):
        UserMapping([*DEFAULT_USER.fields, Computed("displayName", joined("name.givenName"))])


# ---- translators ----


def test_table_translates_both_ways_and_refuses_the_unknown():
    departments = table({"ENG": "Engineering", "FIN": "Finance"})
    assert departments.to_backend("ENG") == "Engineering"
    assert departments.to_backend("fin") == "Finance"
    assert departments.to_scim("Engineering") == "ENG"
    assert departments.to_scim("Research") == "Research"  # set in Workstream: shown as is
    with pytest.raises(TranslationError, match="not one of ENG, FIN"):
        departments.to_backend("MKT")
    with pytest.raises(TranslationError):
        departments.to_backend("Engineering")  # a name is not a code: no guessing


def test_a_table_that_cannot_be_reversed_is_refused():
    with pytest.raises(ValueError, match="reversed"):
        table({"ENG": "Engineering", "DEV": "Engineering"})


def test_table_refuses_codes_that_collide_once_case_is_ignored():
    with pytest.raises(ValueError, match="differ only in case"):
        table({"eng": "Engineering", "ENG": "Engines"})
    # Told to respect case, the same codes are two entries.
    exact = table({"eng": "Engineering", "ENG": "Engines"}, case_insensitive=False)
    assert exact.to_backend("eng") == "Engineering" and exact.to_backend("ENG") == "Engines"


@pytest.mark.parametrize("given,stored", [
    ("en_US", "en-US"), ("EN-us", "en-US"), ("fr", "fr"), ("zh_hant_TW", "zh-Hant-TW"),
    ("es-419", "es-419"),
])
def test_locales_are_stored_as_bcp47(given: str, stored: str):
    assert LOCALE_BCP47.to_backend(given) == stored
    assert LOCALE_BCP47.to_backend(LOCALE_BCP47.to_scim(stored)) == stored


@pytest.mark.parametrize("bad", ["english", "en_US_POSIX", "", 42])
def test_bad_locales_are_refused(bad):
    with pytest.raises(TranslationError):
        LOCALE_BCP47.to_backend(bad)


@pytest.mark.parametrize("given,stored", [
    ("+1 (555) 010-0199", "+15550100199"), ("555.010.0199", "5550100199"),
    ("+44 20 7946 0958", "+442079460958"),
])
def test_phone_numbers_are_normalised_idempotently(given: str, stored: str):
    assert PHONE_DIGITS.to_backend(given) == stored
    assert PHONE_DIGITS.to_backend(PHONE_DIGITS.to_scim(stored)) == stored


@pytest.mark.parametrize("bad", ["call me", "1+2", "+12", 5550100])
def test_bad_phone_numbers_are_refused(bad):
    with pytest.raises(TranslationError):
        PHONE_DIGITS.to_backend(bad)


# ---- the registry: modules loaded and checked at start-up ----


@pytest.fixture
def package(tmp_path: Path, monkeypatch):
    """A fresh importable package for throwaway mapping modules."""
    name = f"opsmaps_{uuid.uuid4().hex[:8]}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(module: str, text: str) -> str:
        (tmp_path / name / f"{module}.py").write_text(text)
        return f"{name}.{module}"

    yield write
    for key in [k for k in sys.modules if k.startswith(name)]:
        del sys.modules[key]


def test_a_module_without_group_uses_the_default_group(package):
    name = package("hooli", "from mappings.default import USER as D\nUSER = D.read_only('title')\n")
    default = load_module("mappings.default")
    loaded = load_module(name, default)
    assert loaded.group is DEFAULT_GROUP and loaded.user is not DEFAULT_USER
    assert loaded.module == name


@pytest.mark.parametrize("text,message", [
    ("from gateway.mapping import Field\nfrom mappings.default import USER as D\n"
     "USER = D.extend(Field('nickname2', 'title'))\n", "unknown SCIM attribute path 'nickname2'"),
    ("from gateway.mapping import Field\nfrom mappings.default import USER as D\n"
     "USER = D.extend(Field('nickName', 'nick_name'))\n", "unknown backend field 'nick_name'"),
    ("USER = (\n", "can't be imported: SyntaxError"),
    ("USER = Field('title', 'title')\n", "can't be imported: NameError"),
    ("import no_such_package_here\n", "can't be imported: No module named"),
    ("from mappings.default import USER as D\nUSERS = D\n", "defines no USER mapping"),
    ("from mappings.default import GROUP\nUSER = GROUP\n", "USER must be a UserMapping"),
])
def test_a_broken_module_fails_loudly_naming_itself(package, text: str, message: str):
    name = package("broken", text)
    with pytest.raises(MappingError) as err:
        load_module(name, load_module("mappings.default"))
    assert name in str(err.value) and message in str(err.value)


def test_registry_gives_each_org_its_module_and_others_the_default(package):
    name = package("acme", "from mappings.examples.acme import USER\n")
    registry = MappingRegistry("mappings.default", {"17": name, "18": name})
    assert registry.for_org(17) is registry.for_org(18)  # loaded once
    assert registry.for_org(17).module == name
    assert registry.for_org(99).module == "mappings.default"


def test_registry_refuses_to_start_with_a_broken_module(package):
    name = package("typo", "from mappings.default import USER as D\nUSER = D.without('titel')\n")
    with pytest.raises(MappingError, match="no field for 'titel'"):
        MappingRegistry("mappings.default", {"17": name})
