"""Typed keys for what the application holds (services built once at start-up)."""

from __future__ import annotations

from aiohttp import web

from gateway.auth import CredentialStore
from gateway.backend.client import BackendClient
from gateway.config import Config
from gateway.idstore.base import IdStore
from gateway.mapping.registry import MappingRegistry
from gateway.provisioning.groups import GroupService
from gateway.provisioning.orgs import OrgGate
from gateway.provisioning.users import UserService
from gateway.state import StateDB

CONFIG = web.AppKey("config", Config)
BACKEND = web.AppKey("backend", BackendClient)
ID_STORE = web.AppKey("id_store", IdStore)
CREDENTIALS = web.AppKey("credentials", CredentialStore)
# The state database; /readyz pings it (STATE_DB.ping()).
STATE_DB = web.AppKey("state_db", StateDB)
MAPPINGS = web.AppKey("mappings", MappingRegistry)
ORG_GATE = web.AppKey("org_gate", OrgGate)
USERS = web.AppKey("users", UserService)
GROUPS = web.AppKey("groups", GroupService)
# server.allowed_hosts, lower-cased once: the Host headers base_url may echo.
ALLOWED_HOSTS = web.AppKey("allowed_hosts", frozenset)
