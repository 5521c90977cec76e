"""Resource versions: meta.version tags and the versions a precondition header names."""

from __future__ import annotations

from gateway.scim.versions import Versions, lock_version_of, version_tag


def test_version_tag_is_a_weak_entity_tag_of_the_lock_version():
    assert version_tag(7) == 'W/"7"'
    assert lock_version_of("7") == 7


def test_a_tag_that_is_not_one_of_ours_names_no_version():
    assert lock_version_of("x") is None and lock_version_of("9" * 30) is None
    assert lock_version_of("-1") is None and lock_version_of("٣") is None


def test_versions_match_weakly_and_star_matches_any():
    named = Versions.of(["3", "7", "x"])
    assert named.matches(7) and named.matches(3) and not named.matches(4)
    assert Versions.of(["*"]).matches(12345)
    assert not Versions.of([]).matches(1)


def test_a_resource_version_tag_is_named_by_the_versions_it_carries():
    assert Versions.of(["7"]).names('W/"7"') and not Versions.of(["7"]).names('W/"8"')
    assert Versions.of(["*"]).names('W/"8"')
