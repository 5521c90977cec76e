"""config.toml + environment overrides, validated at start-up naming the bad key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import AuthConfig, ConfigError, load_config, load_section

ROOT = Path(__file__).resolve().parents[3]


def test_no_file_means_demo_defaults():
    config = load_config(None, env={})
    assert config.demo_mode
    assert config.server.port == 8080 and config.redis.url == ""


def test_repo_config_toml_is_valid_and_matches_defaults():
    assert load_config(ROOT / "config.toml", env={}) == load_config(None, env={})


def test_env_overrides_url_secret_and_port(tmp_path):
    config = load_config(None, env={
        "WS_BACKEND_URL": "http://backend:8080", "WS_BACKEND_TOKEN": "s3cret",
        "WS_REDIS_URL": "redis://r:6379/0", "PORT": "5000", "WS_SCIM_MAX_SCAN": "50",
    })
    assert not config.demo_mode
    assert config.backend.token == "s3cret" and config.server.port == 5000
    assert config.redis.url == "redis://r:6379/0" and config.scim.max_scan == 50


def test_list_keys_come_from_toml_arrays_or_comma_separated_env(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[server]\nallowed_hosts = ["scim.example.com", "scim.example.com:8443"]\n')
    config = load_config(path, env={"WS_AUTH_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
                                    "WS_AUTH_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7"})
    assert config.server.allowed_hosts == ("scim.example.com", "scim.example.com:8443")
    assert config.auth.trusted_proxies == ("10.0.0.0/8", "192.168.1.7")


def test_file_values_are_read(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[scim]\nmax_page_size = 50\n[mappings.orgs]\n"17" = "mappings.default"\n')
    config = load_config(path, env={})
    assert config.scim.max_page_size == 50
    assert config.mappings.orgs == {"17": "mappings.default"}


@pytest.mark.parametrize("text,env,named", [
    ("[scim]\nmax_scn = 5\n", {}, "scim.max_scn"),
    ("[sever]\nport = 1\n", {}, "[sever]"),
    ("[scim]\nmax_scan = \"lots\"\n", {}, "scim.max_scan"),
    ("", {"WS_SERVER_PORT": "eighty"}, "server.port"),
    ("[scim]\nmax_scan = 0\n", {}, "scim.max_scan"),
    ("[backend]\nurl = \"http://x\"\n", {}, "backend.token"),
    ("[backend]\nurl = \"ftp://x\"\ntoken = \"t\"\n", {}, "backend.url"),
    ("[redis]\nurl = \"localhost:6379\"\n", {}, "redis.url"),
    ("[server]\nbase_path = \"scim/\"\n", {}, "server.base_path"),
    ("[mappings.orgs]\nacme = \"mappings.default\"\n", {}, "mappings.orgs"),
    ("[scim\n", {}, "not valid TOML"),
    ("", {"WS_BACKEND_TIMEOUT_S": "nan"}, "backend.timeout_s"),
    ("", {"WS_BACKEND_DEADLINE_S": "inf"}, "backend.deadline_s"),
    ("[scim]\norg_cache_ttl_s = nan\n", {}, "scim.org_cache_ttl_s"),
    ("[server]\nport = 8080.9\n", {}, "server.port"),
    ("[server]\nallowed_hosts = [1]\n", {}, "server.allowed_hosts"),
    ("[server]\nallowed_hosts = [\"https://scim.example.com/\"]\n", {}, "server.allowed_hosts"),
    ("[server]\nheader_timeout_s = 0\n", {}, "server.header_timeout_s"),
    ("[server]\nmax_connections = 0\n", {}, "server.max_connections"),
    ("[auth]\ntrusted_proxy_header = \"X-Forwarded-For\"\n", {}, "auth.trusted_proxies"),
    ("[auth]\ntrusted_proxies = [\"10.0.0.0/8\"]\n", {}, "auth.trusted_proxy_header"),
    ("[auth]\ntrusted_proxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"lb\"]\n", {},
     "auth.trusted_proxies"),
    ("[auth]\nhash_slots = 0\n", {}, "auth.hash_slots"),
    ("[scim]\nmax_scan = 1e3\nmax_page_size = 20.5\n", {}, "scim.max_page_size"),
    ("", {"WS_MAPPINGS_ORGS": '{"17": "mappings.acme"}'}, "mappings.orgs"),
    ("[scim]\nmax_page_size = 201\n", {}, "scim.max_page_size"),
    ("", {"WS_SCIM_MAX_PAGE_SIZE": "500"}, "scim.max_page_size"),
    ("[log]\nformat = \"xml\"\n", {}, "log.format"),
    ("", {"WS_LOG_LEVEL": "chatty"}, "log.level"),
    ("", {"WS_METRICS_ENABLED": "maybe"}, "metrics.enabled"),
])
def test_bad_config_names_the_key(tmp_path, text, env, named):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env=env)
    assert named in str(err.value)


def test_gateway_refuses_to_start_on_bad_config_or_mapping(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[scim]\nmax_scan = -1\n")
    result = subprocess.run([sys.executable, "-m", "gateway", "--config", str(bad)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2 and "scim.max_scan" in result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text('[backend]\nurl = "http://127.0.0.1:9"\ntoken = "t"\n'
                      '[mappings]\ndefault = "mappings.no_such_module"\n')
    result = subprocess.run([sys.executable, "-m", "gateway", "--config", str(broken)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2 and "mappings.no_such_module" in result.stderr


def test_production_start_refuses_to_fall_back_to_the_demo(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(ROOT / "config.toml"),
         "--require-backend"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert result.returncode == 2 and "backend.url" in result.stderr


def test_procfile_serves_on_port_and_requires_a_backend():
    line = (ROOT / "Procfile").read_text().strip()
    assert line.startswith("web: ") and "--require-backend" in line


def test_config_repr_leaves_out_the_backend_token_and_redis_url():
    config = load_config(None, env={
        "WS_BACKEND_URL": "http://backend:8080", "WS_BACKEND_TOKEN": "s3cret-token",
        "WS_REDIS_URL": "redis://:redis-pw@r:6379/0",
    })
    text = repr(config)
    assert "s3cret-token" not in text and "redis-pw" not in text
    assert "http://backend:8080" in text  # the rest is still there to read
    assert config.backend.token == "s3cret-token"
    assert config.redis.url == "redis://:redis-pw@r:6379/0"


def test_integral_toml_float_for_an_int_key_is_accepted(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = 8081.0\n[scim]\nmax_page_size = 200\n")
    config = load_config(path, env={})
    assert config.server.port == 8081 and isinstance(config.server.port, int)
    assert config.scim.max_page_size == 200


def test_one_section_is_read_with_its_env_override_and_checks(tmp_path):
    path = tmp_path / "c.toml"
    # The whole config would be refused (backend.url without a token); [auth] alone is fine.
    path.write_text('[backend]\nurl = "http://x"\n[auth]\ncredentials_file = "a.json"\n')
    with pytest.raises(ConfigError):
        load_config(path, env={})
    assert load_section("auth", path, env={}) == AuthConfig(credentials_file="a.json")
    assert load_section("auth", path, env={"WS_AUTH_CREDENTIALS_FILE": "b.json"}
                        ).credentials_file == "b.json"
    assert load_section("auth", tmp_path / "missing.toml", env={}) == AuthConfig()
    path.write_text('[auth]\ncredentials = "a.json"\n')
    with pytest.raises(ConfigError, match=r"auth\.credentials"):
        load_section("auth", path, env={})
    with pytest.raises(ConfigError, match="nope"):
        load_section("nope", path, env={})


def test_limits_have_safe_defaults_and_refuse_zero():
    limits = load_config(None, env={}).limits
    assert limits.filter_max_length == 10_000 and limits.filter_max_lookups == 50
    with pytest.raises(ConfigError, match=r"limits\.filter_max_nodes"):
        load_config(None, env={"WS_LIMITS_FILTER_MAX_NODES": "0"})
    assert load_config(None, env={"WS_LIMITS_PATCH_MAX_OPERATIONS": "5"}).limits \
        .patch_max_operations == 5


def test_log_and_metrics_keys_are_read_from_file_and_environment(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[log]\nformat = "text"\nlevel = "warning"\n[metrics]\nenabled = false\n')
    config = load_config(path, env={"WS_METRICS_TOKEN": "scrape"})
    assert (config.log.format, config.log.level) == ("text", "warning")
    assert config.metrics.enabled is False and config.metrics.token == "scrape"
    assert "scrape" not in repr(config)
