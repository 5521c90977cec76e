"""Which mapping each org uses, loaded and checked once at start-up.

A mapping module exposes `USER` (required) and optionally `GROUP`; a module
without `GROUP` uses the default module's. A module that fails to import or
check stops start-up with a message naming it: a mapping mistake never
reaches the backend silently.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from gateway.mapping.fields import MappingError, ResourceKind
from gateway.mapping.resource_mapping import ResourceMapping


@dataclass(frozen=True)
class OrgMappings:
    """The mappings one org's requests go through."""

    module: str
    user: ResourceMapping
    group: ResourceMapping


def load_module(name: str, fallback: OrgMappings | None = None) -> OrgMappings:
    """Import a mapping module and check it; errors name the module."""
    try:
        module = importlib.import_module(name)
    except MappingError as exc:
        raise MappingError(f"mapping module {name}: {exc}") from None
    except ImportError as exc:
        raise MappingError(f"mapping module {name} can't be imported: {exc}") from None
    except Exception as exc:  # a typo in the module: SyntaxError, NameError, TypeError...
        raise MappingError(
            f"mapping module {name} can't be imported: {type(exc).__name__}: {exc}"
        ) from exc
    if not hasattr(module, "USER"):
        # A misspelt `USERS = ...` must not quietly fall back to the default mapping.
        raise MappingError(f"mapping module {name}: defines no USER mapping")
    user = module.USER
    group = getattr(module, "GROUP", None) or (fallback.group if fallback else None)
    if not isinstance(user, ResourceMapping) or user.kind is not ResourceKind.USER:
        raise MappingError(f"mapping module {name}: USER must be a UserMapping")
    if not isinstance(group, ResourceMapping) or group.kind is not ResourceKind.GROUP:
        raise MappingError(f"mapping module {name}: GROUP must be a GroupMapping")
    return OrgMappings(name, user, group)


class MappingRegistry:
    """Org id → its mappings; every configured module is loaded up front."""

    def __init__(self, default_module: str, org_modules: dict[str, str]) -> None:
        self.default = load_module(default_module)
        loaded: dict[str, OrgMappings] = {default_module: self.default}
        self._by_org: dict[int, OrgMappings] = {}
        for org, module in org_modules.items():
            if module not in loaded:
                loaded[module] = load_module(module, self.default)
            self._by_org[int(org)] = loaded[module]

    def modules(self) -> dict[int, str]:
        """Org id → the module of each org configured with its own (for the start-up log)."""
        return {org: m.module for org, m in self._by_org.items()}

    def for_org(self, org_id: int) -> OrgMappings:
        return self._by_org.get(org_id, self.default)
