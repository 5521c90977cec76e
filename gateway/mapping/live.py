"""Keeps a process's MappingRegistry in step with the state database and the module files.

About every second (or at once on SIGHUP) a background task reads the
`mappings` change counter (one cheap query) and stats each module file; only
when one of them moved does it read the assignments or a file and refresh the
registry. So `workstream-admin mapping assign` and an edited module reach
every worker on every host within seconds, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from gateway.mapping.registry import MappingRegistry
from gateway.state import StateError
from gateway.state.mapping_assignments import MappingAssignments
from gateway.state.url import is_memory

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 1.0


class MappingWatcher:
    def __init__(self, registry: MappingRegistry, assignments: MappingAssignments,
                 seed: Mapping[int, str], *, interval_s: float = POLL_INTERVAL_S) -> None:
        self.registry = registry
        self.assignments = assignments
        self.seed = dict(seed)
        self.interval_s = interval_s
        self._version: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._db_down = False
        # A private in-memory database (demo, tests) changes only through this process,
        # which prepare() has read: polling it would only share its one connection more.
        self._poll_db = not is_memory(assignments.db.url)

    async def prepare(self, *, strict: bool = False) -> None:
        """Seed the config's assignments (orgs without one) and apply the database's.

        `strict` (start-up): a module that can't be loaded raises MappingError.
        """
        await self.assignments.db.ready()
        seeded = await self.assignments.seed(self.seed)
        if seeded:
            log.info("mapping assignments seeded from config.toml for org(s) %s",
                     ", ".join(map(str, sorted(seeded))))
        await self.sync(strict=strict, force=True)

    async def start(self) -> None:
        """Prepare, then poll in the background until `close`."""
        await self.prepare()
        serving = self.registry.serving()
        log.info("mapping modules serving: %s", self.registry.describe(),
                 extra={"default_mapping": self.registry.default.module,
                        "org_mappings": {str(org): m.module for org, (m, _) in serving.items()},
                        "mapping_versions": {
                            m.module: m.version
                            for m in [self.registry.default, *(m for m, _ in serving.values())]}})
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._poll_forever())

    def wake(self) -> None:
        """Check now (SIGHUP) rather than at the next tick."""
        if self._wake is not None:
            self._wake.set()

    async def sync(self, *, strict: bool = False, force: bool = False) -> bool:
        """One check: the counter (and the assignments if it moved), then the files."""
        wanted = None
        if force or (self._poll_db and await self.assignments.version() != self._version):
            version, rows = await self.assignments.load()
            wanted = {org: (a.module, a.source) for org, a in rows.items()}
            self._version = version
        return self.registry.refresh(wanted, strict=strict)

    async def _poll_forever(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            try:
                await self.sync()
            except StateError as exc:
                if not self._db_down:
                    log.error("mapping assignments: %s; the current mappings keep serving", exc)
                self._db_down = True
                continue
            except Exception:  # never let the poller die: changes would stop arriving
                log.exception("mapping refresh failed; the current mappings keep serving")
                continue
            if self._db_down:
                log.info("mapping assignments: state database reachable again")
                self._db_down = False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
