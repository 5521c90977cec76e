"""sortOrder is case-insensitive in a SearchRequest body, as it is in a query string."""

import pytest

from gateway.scim.errors import ScimError
from gateway.scim.validation import validate
from gateway.web.params import ListParams


@pytest.mark.parametrize(("order", "descending"), [
    ("ascending", False), ("DESCENDING", True), ("Descending", True)])
def test_sort_order_any_case_is_accepted(order, descending):
    body = {"sortBy": "userName", "sortOrder": order}
    validate("SearchRequest", body)
    assert ListParams.parse(body, max_page_size=200).descending is descending


def test_other_sort_order_names_the_attribute():
    with pytest.raises(ScimError) as err:
        validate("SearchRequest", {"sortOrder": "upwards"})
    assert err.value.status == 400 and "sortOrder" in err.value.detail
