"""Which mapping each org uses: loaded and checked before it serves, replaced live.

A mapping module exposes `USER` (required) and optionally `GROUP`; a module
without `GROUP` uses the default module's. A module that fails to import or
check stops start-up with a message naming it: a mapping mistake never
reaches the backend silently.

While the gateway runs, `MappingRegistry.refresh` takes a new set of org
assignments (from the state database, see gateway.mapping.live) and reloads
module files whose content changed. A reload executes the file afresh into a
new module object, so the one serving keeps serving untouched until the new
one has passed its checks; a module that fails them is refused with one log
line and the old one keeps serving. A request takes its org's `OrgMappings`
once, at its start (gateway.web.context), so it finishes on that version.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from gateway.mapping.fields import MappingError, ResourceKind
from gateway.mapping.resource_mapping import ResourceMapping

log = logging.getLogger(__name__)

SOURCE_DEFAULT = "default"  # an org without an assignment of its own


def content_version(source: bytes) -> str:
    """A mapping's version: the first 12 hex digits of the sha256 of its source file."""
    return hashlib.sha256(source).hexdigest()[:12]


@dataclass(frozen=True)
class OrgMappings:
    """The mappings one org's requests go through (one loaded version of a module)."""

    module: str
    user: ResourceMapping
    group: ResourceMapping
    version: str = ""  # content_version of the module's file ("" when it has none)
    path: str | None = None


def load_module(name: str, fallback: OrgMappings | None = None, *,
                fresh: bool = False) -> OrgMappings:
    """Import a mapping module and check it; errors name the module.

    `fresh`: execute the module's file again into a new module object (a live
    reload); it replaces the one in sys.modules only once its checks pass.
    """
    previous = sys.modules.get(name)
    path: str | None
    try:
        if fresh:
            module, path, source = _execute_afresh(name)
        else:
            module = importlib.import_module(name)
            path = getattr(module, "__file__", None)
            source = Path(path).read_bytes() if path else b""
    except MappingError as exc:
        raise MappingError(f"mapping module {name}: {exc}") from None
    except ImportError as exc:
        raise MappingError(f"mapping module {name} can't be imported: {exc}") from None
    except Exception as exc:  # a typo in the module: SyntaxError, NameError, TypeError...
        raise MappingError(
            f"mapping module {name} can't be imported: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        user, group = _check(name, module, fallback)
    except MappingError:
        if fresh:
            _restore(name, previous)
        raise
    return OrgMappings(name, user, group, content_version(source) if path else "", path)


def _check(name: str, module: ModuleType,
           fallback: OrgMappings | None) -> tuple[ResourceMapping, ResourceMapping]:
    if not hasattr(module, "USER"):
        # A misspelt `USERS = ...` must not quietly fall back to the default mapping.
        raise MappingError(f"mapping module {name}: defines no USER mapping")
    user = module.USER
    group = getattr(module, "GROUP", None) or (fallback.group if fallback else None)
    if not isinstance(user, ResourceMapping) or user.kind is not ResourceKind.USER:
        raise MappingError(f"mapping module {name}: USER must be a UserMapping")
    if not isinstance(group, ResourceMapping) or group.kind is not ResourceKind.GROUP:
        raise MappingError(f"mapping module {name}: GROUP must be a GroupMapping")
    return user, group


def module_path(name: str) -> str | None:
    """The source file of module `name`, without executing it (None: not found)."""
    importlib.invalidate_caches()  # a file created since start-up must be found
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.has_location else None


def _execute_afresh(name: str) -> tuple[ModuleType, str, bytes]:
    """Run the module's current source into a new module object, installed in sys.modules.

    Compiled from the bytes that are hashed (no .pyc that could be stale), so
    the version names exactly the code that runs. Other modules are untouched;
    on failure sys.modules holds the previous module again.
    """
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.has_location or spec.origin is None:
        raise ImportError(f"No module named {name!r}")
    source = Path(spec.origin).read_bytes()
    code = compile(source, spec.origin, "exec")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module  # the module body may look itself up (dataclasses do)
    try:
        exec(code, module.__dict__)
    except BaseException:
        _restore(name, previous)
        raise
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    return module, spec.origin, source


def _restore(name: str, previous: ModuleType | None) -> None:
    if previous is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = previous
    parent, _, child = name.rpartition(".")
    if parent in sys.modules and previous is not None:
        setattr(sys.modules[parent], child, previous)


@dataclass
class _Watched:
    """A module file as last seen: its stat, and the content version of its bytes."""

    path: str
    stamp: tuple[int, int] | None
    version: str


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class MappingRegistry:
    """Org id → its mappings. Reads are one dict lookup; changes swap the whole dict."""

    def __init__(self, default_module: str, org_modules: Mapping[str, str]) -> None:
        self.default_module = default_module
        self.default = load_module(default_module)
        self._loaded: dict[str, OrgMappings] = {default_module: self.default}
        self._wanted: dict[int, tuple[str, str]] = {}  # org → (module, source)
        for org, module in org_modules.items():
            if module not in self._loaded:
                self._loaded[module] = load_module(module, self.default)
            self._wanted[int(org)] = (module, "config")
        self._by_org: dict[int, OrgMappings] = {
            org: self._loaded[module] for org, (module, _) in self._wanted.items()}
        self._watched: dict[str, _Watched] = {}
        for loaded in self._loaded.values():
            self._watch(loaded.module, loaded.path, loaded.version)

    # -- the hot path ----------------------------------------------------------

    def for_org(self, org_id: int) -> OrgMappings:
        return self._by_org.get(org_id, self.default)

    # -- what serves (logs, `mapping list`) ---------------------------------------

    def modules(self) -> dict[int, str]:
        """Org id → the module of each org served by its own (for the start-up log)."""
        return {org: m.module for org, m in self._by_org.items()}

    def serving(self) -> dict[int, tuple[OrgMappings, str]]:
        """Org id → (what serves it, the assignment's source), for orgs with their own."""
        return {org: (m, self._wanted.get(org, (m.module, "config"))[1])
                for org, m in self._by_org.items()}

    def describe(self) -> str:
        """One line: every module serving, with its version and orgs."""
        parts = [f"{self.default.module}@{self.default.version} by default"]
        parts += [f"{m.module}@{m.version} for org {org}"
                  for org, m in sorted(self._by_org.items())]
        return ", ".join(parts)

    # -- live changes ----------------------------------------------------------

    def refresh(self, wanted: Mapping[int, tuple[str, str]] | None = None, *,
                strict: bool = False) -> bool:
        """Apply new assignments (org → (module, source)) and reload changed files.

        With `wanted` None only files are checked (the assignments didn't move).
        A module that can't be loaded is refused (logged; its orgs keep what
        serves them), or with `strict` (start-up) raises MappingError naming
        the org. Returns whether anything an org is served by changed.
        """
        changed = self._changed_files()
        if wanted is None and not changed:
            return False
        before = {org: (m.module, m.version) for org, m in self._by_org.items()}
        before_default = (self.default.module, self.default.version)
        if wanted is not None:
            self._wanted = dict(wanted)
        if changed:
            self._reload_loaded(changed)
        refused: dict[str, str] = {}
        for module in sorted({m for m, _ in self._wanted.values()} - self._loaded.keys()):
            try:
                self._loaded[module] = load_module(module, self.default, fresh=True)
                self._watch(module, self._loaded[module].path, self._loaded[module].version)
            except MappingError as exc:
                refused[module] = str(exc)
                path = module_path(module)
                if path:
                    self._watch(module, path, content_version(_read(path)))
        by_org: dict[int, OrgMappings] = {}
        for org, (module, _source) in self._wanted.items():
            if module in self._loaded:
                by_org[org] = self._loaded[module]
                continue
            if strict:
                raise MappingError(
                    f"org {org} is assigned {refused[module]}; fix the file or assign "
                    f"another module (workstream-admin mapping assign --org {org} MODULE)")
            keeps = self._by_org.get(org, self.default)
            log.error("mapping for org %d refused: %s; %s version %s keeps serving it",
                      org, refused[module], keeps.module, keeps.version,
                      extra={"org_id": org, "mapping_module": module,
                             "serving_module": keeps.module, "serving_version": keeps.version})
            if org in self._by_org:
                by_org[org] = self._by_org[org]
        self._by_org = by_org
        self._forget_unused()
        return self._log_changes(before, before_default)

    def _reload_loaded(self, changed: set[str]) -> None:
        """Execute changed modules afresh; a changed default, every module (built on it)."""
        if self.default_module in changed:
            others = sorted(n for n in self._loaded if n != self.default_module)
            names = [self.default_module, *others]
        else:
            names = sorted(n for n in changed if n in self._loaded)
        for name in names:
            old = self._loaded[name]
            try:
                new = load_module(name, None if name == self.default_module else self.default,
                                  fresh=True)
            except MappingError as exc:
                log.error("mapping module %s refused: %s; version %s keeps serving",
                          name, exc, old.version,
                          extra={"mapping_module": name, "serving_version": old.version})
                continue
            self._loaded[name] = new
            if name == self.default_module:
                self.default = new

    def _changed_files(self) -> set[str]:
        """Modules whose file's content changed since last looked at (stat first: cheap)."""
        changed = set()
        for name, watched in self._watched.items():
            stamp = _stamp(watched.path)
            if stamp == watched.stamp:
                continue
            watched.stamp = stamp
            version = content_version(_read(watched.path)) if stamp else ""
            if version != watched.version:
                watched.version = version
                changed.add(name)
        return changed

    def _watch(self, name: str, path: str | None, version: str) -> None:
        if path:
            self._watched[name] = _Watched(path, _stamp(path), version)

    def _forget_unused(self) -> None:
        used = {self.default_module} | {m.module for m in self._by_org.values()} \
            | {m for m, _ in self._wanted.values()}
        for name in [n for n in self._loaded if n not in used]:
            del self._loaded[name]
        for name in [n for n in self._watched if n not in used]:
            del self._watched[name]

    def _log_changes(self, before: dict[int, tuple[str, str]],
                     before_default: tuple[str, str]) -> bool:
        moved = False
        if (self.default.module, self.default.version) != before_default:
            moved = True
            log.info("default mapping is now %s version %s (was version %s)",
                     self.default.module, self.default.version, before_default[1],
                     extra={"mapping_module": self.default.module,
                            "mapping_version": self.default.version})
        for org in sorted(before.keys() | self._by_org.keys()):
            now = self.for_org(org)
            was = before.get(org, before_default)
            if (now.module, now.version) != was:
                moved = True
                log.info("org %d is now served by mapping %s version %s (was %s version %s)",
                         org, now.module, now.version, was[0], was[1],
                         extra={"org_id": org, "mapping_module": now.module,
                                "mapping_version": now.version})
        return moved


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""
