"""sortOrder is case-insensitive in a SearchRequest body, as it is in a query string."""

import pytest

from gateway.scim.errors import ScimError
from gateway.scim.validation import validate


@pytest.mark.parametrize("order", ["ascending", "DESCENDING", "Descending"])
def test_sort_order_any_case_is_accepted(order):
    validate("SearchRequest", {"sortBy": "userName", "sortOrder": order})


def test_other_sort_order_names_the_attribute():
    with pytest.raises(ScimError) as err:
        validate("SearchRequest", {"sortOrder": "upwards"})
    assert err.value.status == 400 and "sortOrder" in err.value.detail
