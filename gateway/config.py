"""Configuration: `config.toml`, overridden by environment variables, checked at start-up.

Every key has a default, so the gateway starts with no file at all (demo mode:
embedded sandbox, in-process id store). A bad key or value stops start-up with
a message naming it, rather than failing on the first request.

Environment overrides: `WS_<SECTION>_<KEY>` (e.g. `WS_BACKEND_URL`,
`WS_BACKEND_TOKEN`, `WS_REDIS_URL`, `WS_STATE_URL`), and `PORT`
for `server.port` (the Procfile convention). Tables (`mappings.orgs`) are set
in the file only; an environment variable naming one is refused, and so is a
`WS_*` variable that names no key (a typo must not be silently ignored).
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

# The internal API clamps `per_page` to this (shared/workstream-internal-api.md).
BACKEND_MAX_PER_PAGE = 200


class ConfigError(Exception):
    """A configuration key is unknown or has a bad value; the message names it."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # Where SCIM is served; the IdP's "SCIM connector base URL" is http(s)://host<base_path>.
    base_path: str = "/scim/v2"
    # Largest request body accepted, in bytes (larger → 413).
    max_body_bytes: int = 1_048_576
    # Public URL prefix used in meta.location and Location (production sets it).
    public_url: str = ""
    # Without public_url: Host headers (host[:port]) that may appear in URLs we send back;
    # any other Host gets the first of these, or with none the address the request reached.
    allowed_hosts: tuple[str, ...] = ()
    # A request's line and headers must arrive within this many seconds of its first byte.
    header_timeout_s: float = 10.0
    # A request body must arrive within this many seconds of its headers.
    body_timeout_s: float = 30.0
    # An idle keep-alive connection is closed after this many seconds.
    keepalive_timeout_s: float = 75.0
    # Most open connections one worker holds; more are answered 503 and closed.
    max_connections: int = 1000
    # Worker processes sharing the port (gateway/workers.py); above 1 needs redis.url.
    workers: int = 1


@dataclass(frozen=True)
class BackendConfig:
    # Base URL of the internal API; "" starts the embedded sandbox (demo mode).
    url: str = ""
    token: str = field(default="", repr=False)  # a secret: kept out of reprs and logs
    timeout_s: float = 10.0
    # Total time one backend call may take with its retries; below the IdP's 60 s.
    deadline_s: float = 20.0
    max_retries: int = 3
    pool_size: int = 100


@dataclass(frozen=True)
class RedisConfig:
    # redis:// URL shared by every gateway process; "" → in-process store (not shared).
    # It may carry a password (redis://:pw@host), so it stays out of reprs.
    url: str = field(default="", repr=False)


@dataclass(frozen=True)
class StateConfig:
    # The gateway's state database (credentials, group externalIds): an SQLite file for one
    # host, postgresql://user@host/db (several hosts). It may carry a password: no repr.
    url: str = field(default="sqlite:///gateway-state.db", repr=False)


@dataclass(frozen=True)
class AuthConfig:
    # The pre-database credentials file, read only by `workstream-admin credentials import`.
    credentials_file: str = "credentials.json"
    # After `rotate`, how long the old secret keeps working (0: cut over at once).
    rotation_grace_s: float = 86_400.0
    # How long a verified secret is trusted without scrypt (dropped at once on revoke/rotate).
    success_cache_ttl_s: float = 3600.0
    # Header the load balancer writes the caller's address into (e.g. X-Forwarded-For),
    # read only on connections from trusted_proxies; "" → no per-address throttling.
    trusted_proxy_header: str = ""
    # Addresses or CIDR blocks of the load balancers allowed to set that header.
    trusted_proxies: tuple[str, ...] = ()
    # Failed logins (per minute, decaying) from one address before it gets 429.
    client_failure_limit: int = 20
    # Failed logins (per minute, decaying) of one credential before its checks go last.
    credential_failure_limit: int = 1
    # scrypt checks run at once per worker, and checks of good-looking credentials that
    # may wait for one (more → 503 at once).
    hash_slots: int = 2
    verify_queue: int = 32


@dataclass(frozen=True)
class ScimConfig:
    # Largest page a list returns (count above it is clamped).
    max_page_size: int = 200
    # Most people a gateway-evaluated filter may scan before it is refused (tooMany).
    max_scan: int = 10_000
    # How long an org's SAML/SCIM flags are trusted before being read again.
    org_cache_ttl_s: float = 30.0


@dataclass(frozen=True)
class LimitsConfig:
    """What one request may cost, checked before the work it would cause (400 naming the key).

    The defaults sit well above anything an IdP sends and keep the largest
    allowed request to a few milliseconds of CPU (`bench/bench_budget.py`).
    """

    # Characters in a filter (query string or .search body), checked before it is parsed.
    filter_max_length: int = 10_000
    # Comparisons and and/or/not in a filter, counted by a cheap scan before it is parsed.
    filter_max_nodes: int = 200
    # Point lookups (backend calls) one filter may fan out to, e.g. `id eq` OR-branches;
    # more are planned as a bounded scan (itself refused above scim.max_scan).
    filter_max_lookups: int = 50
    # Point lookups run at once for one request.
    lookup_concurrency: int = 4
    # Operations in one PATCH body.
    patch_max_operations: int = 1_000
    # Members of any one JSON object in a body (attribute names).
    body_max_attributes: int = 200
    # JSON values (objects, arrays, scalars) in a whole body, counted before validation.
    body_max_values: int = 20_000


@dataclass(frozen=True)
class MappingsConfig:
    # Mapping module used by every org without its own.
    default: str = "mappings.default"
    # Org id (as a string key) → mapping module, e.g. {"17": "mappings.acme"}.
    orgs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoConfig:
    # Demo mode only: where the embedded sandbox keeps its data ("" → in memory).
    sandbox_db: str = ""
    sandbox_port: int = 8081


@dataclass(frozen=True)
class LogConfig:
    # "json": one JSON object per line on stderr (for a log pipeline); "text": for a terminal.
    format: str = "json"
    # Least severe level written: debug, info, warning or error.
    level: str = "info"


@dataclass(frozen=True)
class MetricsConfig:
    # Serve GET /metrics (Prometheus text format) on the gateway's own port.
    enabled: bool = True
    # When set, /metrics wants `Authorization: Bearer <token>`; "" serves it to anyone
    # who can reach the port (block /metrics at the load balancer then).
    token: str = field(default="", repr=False)


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    state: StateConfig = field(default_factory=StateConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    scim: ScimConfig = field(default_factory=ScimConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    mappings: MappingsConfig = field(default_factory=MappingsConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    log: LogConfig = field(default_factory=LogConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

    @property
    def demo_mode(self) -> bool:
        return not self.backend.url


def _coerce(section: str, key: str, value: Any, default: Any) -> Any:
    """Coerce `value` to the type of `default`, or fail naming the key."""
    name = f"{section}.{key}"
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if isinstance(value, bool):
                return value
            raise ValueError
        if isinstance(default, int):
            # A TOML float such as 8080.9 would otherwise be truncated without a word.
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if isinstance(default, float):
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):  # nan slips past every comparison; inf never ends
                raise ConfigError(f"config key '{name}' must be a finite number, got {value!r}")
            return number
        if isinstance(default, str):
            if not isinstance(value, str):
                raise ValueError
            return value
        if isinstance(default, tuple):
            # A TOML array of strings, or from the environment a comma-separated string.
            if isinstance(value, str):
                value = [part.strip() for part in value.split(",") if part.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError
            return tuple(value)
        if isinstance(default, dict):
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ValueError
            return dict(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"config key '{name}' must be a "
            f"{'list of strings' if isinstance(default, tuple) else type(default).__name__}, "
            f"got {value!r}"
        ) from None
    raise ConfigError(f"config key '{name}' has an unsupported type")  # pragma: no cover


def _section(name: str, cls: type, raw: dict[str, Any], env: dict[str, str]) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"config section '[{name}]' must be a table")
    instance = cls()
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown config key '{name}.{sorted(unknown)[0]}'")
    values: dict[str, Any] = {}
    for f in fields(cls):
        default = getattr(instance, f.name)
        env_name = f"WS_{name}_{f.name}".upper()
        if env_name in env and isinstance(default, dict):
            raise ConfigError(f"config key '{name}.{f.name}' is a table and cannot be set from "
                              f"the environment ({env_name}); set it in config.toml")
        if env_name in env:
            values[f.name] = _coerce(name, f.name, env[env_name], default)
        elif f.name in raw:
            values[f.name] = _coerce(name, f.name, raw[f.name], default)
    return replace(instance, **values)


def _check(config: Config) -> None:
    """Range checks that types alone don't catch; each names its key."""
    positive = {
        "server.port": config.server.port,
        "server.max_body_bytes": config.server.max_body_bytes,
        "server.workers": config.server.workers,
        "backend.timeout_s": config.backend.timeout_s,
        "backend.deadline_s": config.backend.deadline_s,
        "backend.pool_size": config.backend.pool_size,
        "scim.max_page_size": config.scim.max_page_size,
        "scim.max_scan": config.scim.max_scan,
        "server.header_timeout_s": config.server.header_timeout_s,
        "server.body_timeout_s": config.server.body_timeout_s,
        "server.keepalive_timeout_s": config.server.keepalive_timeout_s,
        "server.max_connections": config.server.max_connections,
        "auth.success_cache_ttl_s": config.auth.success_cache_ttl_s,
        "auth.client_failure_limit": config.auth.client_failure_limit,
        "auth.credential_failure_limit": config.auth.credential_failure_limit,
        "auth.hash_slots": config.auth.hash_slots,
        "auth.verify_queue": config.auth.verify_queue,
        **{f"limits.{f.name}": getattr(config.limits, f.name) for f in fields(LimitsConfig)},
    }
    for key, value in positive.items():
        if not value > 0:
            raise ConfigError(f"config key '{key}' must be positive, got {value!r}")
    if config.scim.max_page_size > BACKEND_MAX_PER_PAGE:
        # The backend clamps per_page to 200, so a larger page would come back short.
        raise ConfigError(f"config key 'scim.max_page_size' must be at most "
                          f"{BACKEND_MAX_PER_PAGE}, got {config.scim.max_page_size}")
    if config.backend.max_retries < 0:
        raise ConfigError("config key 'backend.max_retries' must be 0 or more")
    if not config.server.base_path.startswith("/") or config.server.base_path.endswith("/"):
        raise ConfigError("config key 'server.base_path' must start with '/' and not end with '/'")
    if config.backend.url:
        if not config.backend.url.startswith(("http://", "https://")):
            raise ConfigError("config key 'backend.url' must be an http(s) URL")
        if not config.backend.token:
            raise ConfigError("config key 'backend.token' is required when backend.url is set "
                              "(set WS_BACKEND_TOKEN)")
    if config.auth.rotation_grace_s < 0:
        raise ConfigError("config key 'auth.rotation_grace_s' must be 0 or more")
    _check_state_url(config.state.url)
    if config.redis.url and not config.redis.url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("config key 'redis.url' must be a redis://, rediss:// or unix:// URL")
    if config.log.format not in ("json", "text"):
        raise ConfigError(f"config key 'log.format' must be \"json\" or \"text\", "
                          f"got {config.log.format!r}")
    if config.log.level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"config key 'log.level' must be debug, info, warning or error, "
                          f"got {config.log.level!r}")
    if bool(config.auth.trusted_proxy_header) != bool(config.auth.trusted_proxies):
        # A header trusted from anyone lets any caller pick the address it is throttled as.
        raise ConfigError("config keys 'auth.trusted_proxy_header' and 'auth.trusted_proxies' "
                          "go together: set both or neither")
    for proxy in config.auth.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(f"config key 'auth.trusted_proxies' holds {proxy!r}, not an IP "
                              "address or CIDR block") from None
    for host in config.server.allowed_hosts:
        if not host or "/" in host or any(c.isspace() for c in host):
            raise ConfigError(f"config key 'server.allowed_hosts' holds {host!r}: write "
                              "host or host:port, e.g. 'scim.example.com'")
    if config.server.workers > 1 and config.backend.url and not config.redis.url:
        # The in-process id store and group locks would be per worker: lookups would miss
        # and two workers could apply one group's membership changes at once.
        raise ConfigError(f"config key 'server.workers' is {config.server.workers} but "
                          "redis.url is empty (WS_REDIS_URL): workers share their id index "
                          "and group locks only through Redis")
    for org, module in config.mappings.orgs.items():
        if not org.isdigit():
            raise ConfigError(f"config key 'mappings.orgs' has a non-numeric org id {org!r}")
        if not module:
            raise ConfigError(f"config key 'mappings.orgs.{org}' names no module")


def _check_state_url(url: str) -> None:
    from gateway.state.url import BadStateUrl, async_url

    try:
        async_url(url)
    except BadStateUrl as exc:
        raise ConfigError(f"config key 'state.url': {exc}") from None


_SECTION_CLASSES = {
    "server": ServerConfig, "backend": BackendConfig, "redis": RedisConfig,
    "state": StateConfig,
    "auth": AuthConfig, "scim": ScimConfig, "limits": LimitsConfig,
    "mappings": MappingsConfig, "demo": DemoConfig, "log": LogConfig, "metrics": MetricsConfig,
}


def _read_toml(path: str | Path | None, *, required: bool = False) -> dict[str, Any]:
    """The parsed file; no path is an empty one, and so is a missing file unless `required`."""
    if path is None:
        return {}
    if not Path(path).is_file():
        if required:
            raise ConfigError(f"config file {path} does not exist")
        return {}
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_section(name: str, path: str | Path | None = None,
                 env: dict[str, str] | None = None) -> Any:
    """One section of `path` with its env overrides, its keys and types checked.

    For tools that need one setting, such as `workstream-admin` reading
    `[state]`: `load_config` would also insist on what only the gateway needs
    (e.g. backend.token once backend.url is set).
    """
    if name not in _SECTION_CLASSES:
        raise ConfigError(f"unknown config section '[{name}]'")
    env = dict(os.environ if env is None else env)
    _check_env_names(env)  # a typo'd WS_AUTH_... would send a tool to another file
    return _section(name, _SECTION_CLASSES[name], _read_toml(path).get(name, {}), env)


def _check_env_names(env: dict[str, str]) -> None:
    """Refuse a `WS_*` variable that names no key: a typo would otherwise be ignored."""
    known = {
        f"WS_{name}_{f.name}".upper()
        for name, cls in _SECTION_CLASSES.items() for f in fields(cls)
    }
    unknown = sorted(name for name in env if name.startswith("WS_") and name not in known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"unknown environment variable {unknown[0]}{hint}: WS_* variables "
                          "set config keys as WS_<SECTION>_<KEY>")


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Read `path` (None → all defaults; a path must exist), apply env overrides, validate."""
    env = dict(os.environ if env is None else env)
    _check_env_names(env)
    raw = _read_toml(path, required=True)
    unknown = set(raw) - set(_SECTION_CLASSES)
    if unknown:
        raise ConfigError(f"unknown config section '[{sorted(unknown)[0]}]'")
    sections = {
        name: _section(name, cls, raw.get(name, {}), env) for name, cls in _SECTION_CLASSES.items()
    }
    config = Config(**sections)
    if "PORT" in env:
        config = replace(
            config, server=replace(config.server, port=_coerce("server", "port", env["PORT"], 0))
        )
    _check(config)
    return config
