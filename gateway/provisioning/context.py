"""What every use case needs to know about the request it serves."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.mapping.registry import OrgMappings


@dataclass(frozen=True)
class OrgContext:
    """The authenticated org, its mappings, and the base URL for meta.location."""

    org_id: int
    mappings: OrgMappings
    base_url: str
