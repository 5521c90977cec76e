"""The IdP label of a request: from its User-Agent or credential label, in a fixed set."""

from __future__ import annotations

import pytest

from gateway.scim.idp_quirks import IDP_NAMES, identify_idp


@pytest.mark.parametrize(("user_agent", "label", "idp"), [
    ("Okta SCIM Client 1.0.0", None, "okta"),
    ("Azure Active Directory SCIM Client", None, "entra"),
    ("Microsoft.Identity.Provisioning", "whatever", "entra"),
    ("OneLogin-SCIM/1.0", None, "onelogin"),
    ("JumpCloud SCIM", None, "jumpcloud"),
    ("python-requests/2.31", "okta", "okta"),  # a generic client: the label decides
    ("curl/8.0", "Entra ID (prod)", "entra"),
    ("Okta SCIM Client 1.0.0", "jumpcloud", "okta"),  # what the caller says it is wins
    ("curl/8.0", None, "other"),
    ("", "acme", "other"),
])
def test_each_request_gets_one_of_a_few_idp_names(user_agent, label, idp):
    assert identify_idp(user_agent, label) == idp


def test_a_caller_chosen_user_agent_never_becomes_a_label_value():
    assert identify_idp("x" * 10_000 + "' evil {label}", None) in IDP_NAMES
