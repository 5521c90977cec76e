"""The mapping engine on its own: SCIM dict ⇄ backend record, derivation, and its checks."""

from __future__ import annotations

import copy

import pytest

from gateway.mapping import ENTERPRISE, Field, MappingError, UserMapping, custom_extension
from gateway.mapping.fields import read_scim
from gateway.mapping.translators import USER_REFERENCE, table
from gateway.scim.errors import ScimError
from mappings.default import USER as DEFAULT

BASE = "https://gw.example/scim/v2"

RECORD = {
    "id": 48213, "org_id": 17, "email": "ada@acme.example", "first_name": "Ada",
    "last_name": "Lovelace", "display_name": "Ada Lovelace", "title": "Analyst",
    "department": "Research", "employee_number": "E-1001", "cost_center": "CC-42",
    "manager_id": 48001, "phone": "+1 555 0100", "locale": "en-US",
    "timezone": "America/New_York", "sso_id": "00u1abcd", "status": "active",
    "lock_version": 3, "created_at": "2026-11-28T14:03:11Z",
    "updated_at": "2026-11-28T14:05:40Z",
}
WRITABLE = ("email", "first_name", "last_name", "display_name", "title", "department",
            "employee_number", "cost_center", "manager_id", "phone", "locale", "timezone",
            "sso_id", "status")


def minimal(**extra) -> dict:
    return {"userName": "ada@acme.example",
            "name": {"givenName": "Ada", "familyName": "Lovelace"}, **extra}


def field_of(mapping, text: str):
    return next(b for b in mapping.bound if b.text == text)


# ---- reads and writes ----


def test_record_reads_as_scim_and_writes_back_to_the_same_fields():
    scim = DEFAULT.to_scim_attributes(RECORD)
    assert scim["userName"] == "ada@acme.example"
    assert scim["name"] == {"givenName": "Ada", "familyName": "Lovelace",
                            "formatted": "Ada Lovelace"}
    assert scim["emails"] == [{"type": "work", "primary": True, "value": "ada@acme.example"}]
    assert scim[ENTERPRISE]["manager"] == {"value": "48001"}
    assert scim["active"] is True
    assert DEFAULT.to_backend(scim) == {k: RECORD[k] for k in WRITABLE}


def test_to_scim_is_the_whole_resource_with_meta_from_the_record():
    resource = DEFAULT.to_scim(RECORD, BASE)
    assert resource["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]
    assert resource["id"] == "48213"
    assert resource["meta"] == {
        "resourceType": "User", "created": "2026-11-28T14:03:11Z",
        "lastModified": "2026-11-28T14:05:40Z", "location": f"{BASE}/Users/48213",
        "version": 'W/"3"',
    }


def test_null_backend_values_are_left_out_of_the_resource():
    record = {**RECORD, "title": None, "department": None, "employee_number": None,
              "cost_center": None, "manager_id": None}
    resource = DEFAULT.to_scim(record, BASE)
    assert "title" not in resource and ENTERPRISE not in resource
    assert resource["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User"]


def test_an_absent_attribute_clears_its_field_on_a_write():
    fields = DEFAULT.to_backend(minimal())
    assert fields["title"] is None and fields["department"] is None
    assert fields["first_name"] == "Ada" and fields["email"] == "ada@acme.example"


def test_an_empty_string_counts_as_absent():
    assert DEFAULT.to_backend(minimal(title=""))["title"] is None


# ---- two sources feeding one field ----


def test_on_create_the_first_declared_source_wins():
    body = minimal(emails=[{"type": "work", "value": "other@acme.example"}])
    assert DEFAULT.to_backend(body)["email"] == "ada@acme.example"


def test_on_update_the_source_the_request_changed_wins():
    previous = DEFAULT.to_scim_attributes(RECORD)
    changed_email = copy.deepcopy(previous)
    changed_email["emails"][0]["value"] = "new@acme.example"
    assert DEFAULT.to_backend(changed_email, previous=previous)["email"] == "new@acme.example"
    changed_user = copy.deepcopy(previous)
    changed_user["userName"] = "renamed@acme.example"
    assert DEFAULT.to_backend(changed_user, previous=previous)["email"] == (
        "renamed@acme.example")


def test_removing_one_source_keeps_the_other_ones_value():
    previous = DEFAULT.to_scim_attributes(RECORD)
    target = copy.deepcopy(previous)
    del target["emails"]
    assert DEFAULT.to_backend(target, previous=previous)["email"] == "ada@acme.example"


def test_a_filtered_field_reads_the_primary_matching_element():
    body = minimal(emails=[
        {"type": "work", "value": "first@acme.example"},
        {"type": "home", "value": "home@acme.example", "primary": True},
        {"type": "work", "value": "primary@acme.example", "primary": True},
    ])
    assert read_scim(body, field_of(DEFAULT, 'emails[type eq "work"].value')) == (
        "primary@acme.example")
    body["emails"][2]["primary"] = False
    assert read_scim(body, field_of(DEFAULT, 'emails[type eq "work"].value')) == (
        "first@acme.example")


def test_element_filters_compare_type_case_insensitively():
    body = minimal(phoneNumbers=[{"type": "WORK", "value": "+1 555"}])
    assert DEFAULT.to_backend(body)["phone"] == "+1 555"


# ---- keep_when_absent ----


def test_keep_when_absent_leaves_the_field_out_instead_of_clearing_it():
    assert "status" not in DEFAULT.to_backend(minimal())
    previous = DEFAULT.to_scim_attributes(RECORD)
    target = {k: v for k, v in previous.items() if k != "active"}
    assert "status" not in DEFAULT.to_backend(target, previous=previous)


def test_keep_when_absent_still_writes_a_value_that_is_sent():
    assert DEFAULT.to_backend(minimal(active=False))["status"] == "deactivated"
    assert DEFAULT.to_backend(minimal(active=True))["status"] == "active"


# ---- derivation: read_only, without, extend ----


def test_read_only_ignores_writes_and_still_reads():
    hooli = DEFAULT.read_only("title")
    assert "title" not in hooli.to_backend(minimal(title="Intern"))
    assert hooli.to_scim_attributes(RECORD)["title"] == "Analyst"
    assert DEFAULT.to_backend(minimal(title="Intern"))["title"] == "Intern"  # default untouched


def test_read_only_of_an_unmapped_path_fails_loudly():
    with pytest.raises(MappingError, match="nickName"):
        DEFAULT.read_only("nickName")


def test_without_drops_the_field_from_reads_writes_and_schemas():
    mapping = DEFAULT.without("title")
    assert "title" not in mapping.to_backend(minimal(title="X"))
    assert "title" not in mapping.to_scim_attributes(RECORD)
    core = mapping.advertised_schemas()[0]
    assert core.attribute("title") is None and core.attribute("displayName") is not None
    with pytest.raises(MappingError, match="without\\(\\): no field for 'nickName'"):
        DEFAULT.without("nickName")


def test_without_is_case_insensitive_on_the_path():
    assert "title" not in DEFAULT.without("TITLE").to_scim_attributes(RECORD)


def test_extend_replaces_the_field_for_the_same_path_and_keeps_the_rest():
    mapping = DEFAULT.extend(Field("title", "department"))
    assert [b.spec.backend for b in mapping.bound if b.text == "title"] == ["department"]
    assert len(mapping.fields) == len(DEFAULT.fields)
    fields = mapping.to_backend(minimal(title="Ops"))
    assert fields["department"] == "Ops" and "title" not in fields
    assert mapping.to_scim_attributes(RECORD)["title"] == "Research"


def test_extend_adds_a_custom_extension_and_advertises_it():
    urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
    mapping = DEFAULT.without(f"{ENTERPRISE}:costCenter").extend(
        Field(f"{urn}:costCode", "cost_center"),
        extensions=[custom_extension(urn, "Acme", "costCode")],
    )
    assert mapping.to_backend(minimal(**{urn: {"costCode": "CC-7"}}))["cost_center"] == "CC-7"
    resource = mapping.to_scim(RECORD, BASE)
    assert resource[urn] == {"costCode": "CC-42"} and urn in resource["schemas"]
    assert urn in [s.id for s in mapping.advertised_schemas()]
    assert urn in [s.id for s, _ in mapping.advertised.extensions]
    assert urn not in [s.id for s in DEFAULT.advertised_schemas()]


def test_advertised_schema_is_cut_down_to_what_is_mapped():
    core = {s.id: s for s in DEFAULT.advertised_schemas()}[
        "urn:ietf:params:scim:schemas:core:2.0:User"]
    assert core.attribute("nickName") is None
    emails = core.attribute("emails")
    assert {s.name for s in emails.sub_attributes} == {"value", "type", "primary"}


# ---- derived values (fallback) ----


def _full_name(resource: dict):
    name = resource.get("name") or {}
    parts = [name.get("givenName"), name.get("familyName")]
    return " ".join(p for p in parts if p) or None


GLOBEX = DEFAULT.extend(Field("displayName", "display_name", fallback=_full_name))


def test_fallback_fills_an_absent_attribute_and_a_sent_one_wins():
    assert GLOBEX.to_backend(minimal())["display_name"] == "Ada Lovelace"
    assert GLOBEX.to_backend(minimal(displayName="Countess"))["display_name"] == "Countess"


def test_a_derived_value_follows_its_sources_on_update():
    previous = GLOBEX.to_scim_attributes(RECORD)  # displayName "Ada Lovelace" was derived
    target = copy.deepcopy(previous)
    target["name"]["familyName"] = "King"
    assert GLOBEX.to_backend(target, previous=previous)["display_name"] == "Ada King"


def test_a_display_name_that_was_not_derived_is_kept_on_rename():
    previous = GLOBEX.to_scim_attributes({**RECORD, "display_name": "The Countess"})
    target = copy.deepcopy(previous)
    target["name"]["familyName"] = "King"
    assert GLOBEX.to_backend(target, previous=previous)["display_name"] == "The Countess"


def test_a_display_name_changed_by_the_request_is_used_as_sent():
    previous = GLOBEX.to_scim_attributes(RECORD)
    target = copy.deepcopy(previous)
    target["name"]["familyName"] = "King"
    target["displayName"] = "Lady Ada"
    assert GLOBEX.to_backend(target, previous=previous)["display_name"] == "Lady Ada"


# ---- errors the IdP sees: SCIM attribute names, never backend ones ----

# `title` read from and written to `department` through a table: the SCIM name and the
# backend name differ, so an error naming the backend field would show.
TITLE_CODES = DEFAULT.without(f"{ENTERPRISE}:department").extend(
    Field("title", "department", translate=table({"ENG": "Engineering"})))


def test_an_untranslatable_value_is_a_400_naming_the_scim_attribute():
    with pytest.raises(ScimError) as err:
        TITLE_CODES.to_backend(minimal(title="MKT"))
    assert err.value.status == 400 and err.value.scim_type == "invalidValue"
    assert "'title'" in err.value.detail and "MKT" in err.value.detail
    assert "department" not in err.value.detail


def test_a_value_read_back_unchanged_is_left_alone_even_if_untranslatable():
    previous = TITLE_CODES.to_scim_attributes(RECORD)  # department "Research": not in the table
    assert previous["title"] == "Research"
    assert "department" not in TITLE_CODES.to_backend(previous, previous=previous)
    changed = {**previous, "title": "Sales"}
    with pytest.raises(ScimError, match="'title'"):
        TITLE_CODES.to_backend(changed, previous=previous)


def test_a_value_of_the_wrong_type_names_the_scim_attribute():
    with pytest.raises(ScimError) as err:
        DEFAULT.to_backend({"userName": "a@x", "name": {"givenName": 5, "familyName": "L"}})
    assert err.value.status == 400 and "'name.givenName' must be a string" in err.value.detail
    assert "first_name" not in err.value.detail


def test_a_missing_required_value_names_the_scim_attribute():
    with pytest.raises(ScimError) as err:
        DEFAULT.to_backend({"userName": "a@x", "name": {"givenName": "A"}})
    assert err.value.status == 400 and "'name.familyName' is required" in err.value.detail
    assert "last_name" not in err.value.detail


def test_a_bad_manager_reference_names_the_scim_attribute():
    with pytest.raises(ScimError) as err:
        DEFAULT.to_backend(minimal(**{ENTERPRISE: {"manager": {"value": "not-an-id"}}}))
    assert f"{ENTERPRISE}:manager.value" in err.value.detail
    assert "manager_id" not in err.value.detail


def test_active_must_be_a_boolean():
    with pytest.raises(ScimError, match="'active'"):
        DEFAULT.to_backend(minimal(active="yes"))


# ---- check(): mistakes fail when the mapping is built ----


def test_unknown_scim_path_fails_loudly():
    with pytest.raises(MappingError, match="unknown SCIM attribute path 'nickname2'"):
        DEFAULT.extend(Field("nickname2", "title"))


def test_unknown_extension_attribute_fails_loudly():
    with pytest.raises(MappingError, match="unknown SCIM attribute path"):
        DEFAULT.extend(Field(f"{ENTERPRISE}:costCentre", "cost_center"))


def test_unknown_backend_field_fails_loudly_and_lists_the_known_ones():
    with pytest.raises(MappingError) as err:
        DEFAULT.extend(Field("nickName", "nick_name"))
    assert "unknown backend field 'nick_name'" in str(err.value)
    assert "display_name" in str(err.value)


def test_writing_a_read_only_backend_field_fails_loudly():
    with pytest.raises(MappingError, match="'lock_version', which is read-only"):
        DEFAULT.extend(Field("nickName", "lock_version"))
    mapping = DEFAULT.extend(Field("nickName", "lock_version", writable=False))
    assert mapping.to_scim_attributes(RECORD)["nickName"] == 3


def test_writing_a_read_only_scim_attribute_fails_loudly():
    with pytest.raises(MappingError, match="read-only in SCIM"):
        DEFAULT.extend(Field("meta.created", "title"))


def test_a_required_backend_field_without_a_writable_source_fails_loudly():
    with pytest.raises(MappingError, match="required backend field 'last_name'"):
        DEFAULT.without("name.familyName")
    with pytest.raises(MappingError, match="required backend field 'first_name'"):
        DEFAULT.read_only("name.givenName")


def test_a_user_mapping_must_map_username():
    with pytest.raises(MappingError, match="must map userName"):
        DEFAULT.without("userName")


@pytest.mark.parametrize("path,message", [
    ("emails.value", "name which element"),
    ('emails[type co "w"].value', "only use 'eq'"),
    ('emails[kind eq "work"].value', "unknown sub-attribute 'kind'"),
    ("name", "map a sub-attribute"),
    ('name[givenName eq "x"].familyName', "multi-valued complex"),
])
def test_malformed_paths_fail_loudly(path: str, message: str):
    with pytest.raises(MappingError, match=message.replace("[", r"\[")):
        UserMapping([*DEFAULT.fields, Field(path, "title")])


def test_read_only_field_with_a_translator_still_reads():
    mapping = DEFAULT.extend(
        Field(f"{ENTERPRISE}:manager.value", "manager_id", translate=USER_REFERENCE,
              writable=False))
    assert "manager_id" not in mapping.to_backend(minimal())
    assert mapping.to_scim_attributes(RECORD)[ENTERPRISE]["manager"] == {"value": "48001"}
