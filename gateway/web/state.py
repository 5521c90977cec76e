"""Typed keys for what the application holds (services built once at start-up)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    pass

CONFIG = web.AppKey["Config"]("config")
BACKEND = web.AppKey["BackendClient"]("backend")
ID_STORE = web.AppKey["IdStore"]("id_store")
MAPPINGS = web.AppKey["MappingRegistry"]("mappings")
ORG_GATE = web.AppKey["OrgGate"]("org_gate")
USERS = web.AppKey["UserService"]("users")
GROUPS = web.AppKey["GroupService"]("groups")
