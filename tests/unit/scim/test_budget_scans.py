"""The request budget's cheap scans, the byte-bounded parse cache, validation that stops early."""

from __future__ import annotations

import pytest

from gateway.scim import filter as filter_module
from gateway.scim import validation
from gateway.scim.budget import (
    BodyBudget,
    FilterBudget,
    check_body,
    check_filter_text,
    check_patch,
    count_filter_nodes,
)
from gateway.scim.errors import ScimError
from gateway.scim.filter import FILTER_CACHE, ParseCache, parse_filter


def test_node_scan_counts_operators_and_keywords_but_not_words_inside_strings():
    assert count_filter_nodes('userName eq "a and b or c"', 100) == 1
    assert count_filter_nodes('a eq 1 and (b pr or not (c sw "x"))', 100) == 6
    assert count_filter_nodes('emails[type eq "work" and value co "@"]', 100) == 4


def test_node_scan_stops_counting_past_the_limit():
    text = " or ".join(["id eq 1"] * 10_000)
    assert count_filter_nodes(text, 10) == 11


def test_an_over_budget_filter_never_reaches_the_parser(monkeypatch: pytest.MonkeyPatch):
    def parser_must_not_run(*_args, **_kwargs):
        raise AssertionError("parsed an over-budget filter")

    monkeypatch.setattr(filter_module, "_parse", parser_must_not_run)
    budget = FilterBudget(max_length=100, max_nodes=5)
    with pytest.raises(ScimError) as caught:
        parse_filter("a pr and " * 20 + "a pr", budget)
    assert caught.value.scim_type == "invalidFilter"
    assert "limits.filter_max_length" in caught.value.detail
    with pytest.raises(ScimError) as caught:
        parse_filter(" or ".join(["a pr"] * 4), budget)  # short, but 7 nodes
    assert "limits.filter_max_nodes" in caught.value.detail


def test_a_patch_path_over_budget_is_invalid_path():
    with pytest.raises(ScimError) as caught:
        check_filter_text("x" * 101, FilterBudget(max_length=100), "path")
    assert caught.value.scim_type == "invalidPath"


def test_the_parse_cache_is_bounded_in_bytes_and_keeps_only_successes():
    FILTER_CACHE.clear()
    for i in range(1_000):  # 1,000 distinct 3,000-character filters: 3 MB of text
        parse_filter(f'userName eq "{i:04d}{"x" * 2980}"')
    assert FILTER_CACHE.bytes <= FILTER_CACHE.max_bytes
    assert len(FILTER_CACHE) < 1_000
    before = len(FILTER_CACHE)
    for i in range(50):
        with pytest.raises(ScimError):
            parse_filter(f'userName eq "{i}" and')
    assert len(FILTER_CACHE) == before


def test_one_huge_text_does_not_evict_the_cache():
    cache = ParseCache(max_bytes=1_600, max_entries=10)
    cache.put("a pr", "small")
    cache.put("x" * 200, "huge")  # more than a sixteenth of the budget: not kept
    assert cache.get("a pr") == "small" and cache.get("x" * 200) is None


def test_body_budget_counts_values_and_attributes():
    budget = BodyBudget(max_values=100, max_attributes=5, max_operations=3)
    check_body({"a": [1] * 90}, budget)
    with pytest.raises(ScimError) as caught:
        check_body({"a": [1] * 200}, budget)
    assert "limits.body_max_values" in caught.value.detail
    with pytest.raises(ScimError) as caught:
        check_body({"a": {f"k{i}": i for i in range(6)}}, budget)
    assert "limits.body_max_attributes" in caught.value.detail
    with pytest.raises(ScimError) as caught:
        check_patch({"Operations": [{"op": "remove", "path": "title"}] * 4}, budget,
                    FilterBudget())
    assert caught.value.scim_type == "tooMany"
    assert "limits.patch_max_operations" in caught.value.detail


def test_validation_looks_at_the_first_few_errors_only(monkeypatch: pytest.MonkeyPatch):
    real = validation._VALIDATORS["User"]
    drawn = 0

    class Counting:
        schema = real.schema

        def iter_errors(self, instance):
            nonlocal drawn
            for error in real.iter_errors(instance):
                drawn += 1
                yield error

    monkeypatch.setitem(validation._VALIDATORS, "User", Counting())
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a",
            "emails": [{"value": 1}] * 5_000}
    with pytest.raises(ScimError):
        validation.validate("User", body)
    assert drawn <= validation.MAX_ERRORS


async def test_large_bodies_are_prepared_off_the_event_loop():
    import threading

    from gateway.web.params import OFF_LOOP_BYTES, off_loop_if_large

    def where() -> str:
        return threading.current_thread().name

    assert await off_loop_if_large(OFF_LOOP_BYTES, where) == threading.current_thread().name
    assert (await off_loop_if_large(OFF_LOOP_BYTES + 1, where)).startswith("scim-body")


async def test_long_filters_are_parsed_off_the_event_loop(monkeypatch: pytest.MonkeyPatch):
    import threading

    from gateway.config import LimitsConfig
    from gateway.web import params

    threads: list[str] = []

    def recording(text: str, budget: FilterBudget):
        threads.append(threading.current_thread().name)
        return parse_filter(text, budget)

    monkeypatch.setattr(params, "parse_filter", recording)
    short = 'userName eq "a"'
    long = 'userName eq "' + "a" * params.OFF_LOOP_FILTER_CHARS + '"'
    for text in (short, long):
        await params.ListParams.read({"filter": text}, 200, LimitsConfig())
    assert threads[0] == threading.current_thread().name
    assert threads[1].startswith("scim-body")
