"""Credentials that let an IdP call the SCIM API for one org (see `store`)."""

from gateway.auth.hashing import ScryptParams
from gateway.auth.store import (
    CredentialError,
    CredentialFileError,
    CredentialInfo,
    CredentialRevoked,
    CredentialStore,
    Issued,
    UnknownCredential,
)

__all__ = [
    "CredentialError",
    "CredentialFileError",
    "CredentialInfo",
    "CredentialRevoked",
    "CredentialStore",
    "Issued",
    "ScryptParams",
    "UnknownCredential",
]
