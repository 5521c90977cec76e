"""What every `workstream-admin` command shares: finding the config and the state database."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from gateway.config import ConfigError, load_section
from gateway.state import StateDB
from gateway.state.url import BadStateUrl

DEFAULT_CONFIG = "config.toml"


def add_common(parser: argparse.ArgumentParser) -> None:
    """--config and --state-url, accepted before or after the sub-command."""
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help=f"the gateway's config file, read for [state], [auth] and "
                             f"[backend] (default: {DEFAULT_CONFIG} if it exists)")
    parser.add_argument("--state-url", metavar="URL", default=argparse.SUPPRESS,
                        help="the state database (default: $WS_STATE_URL, else state.url in "
                             "the config file, else sqlite:///gateway-state.db)")


def positive_int(text: str) -> int:
    """argparse type for ids and counts: a whole number above zero, else a usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def section(args: argparse.Namespace, name: str) -> Any:
    """One section of the gateway's config (env first), as the gateway itself reads it."""
    config = getattr(args, "config", None)
    if config is not None and not Path(config).is_file():
        # Named on purpose: falling back to the defaults would write into the wrong database.
        raise ConfigError(f"config file {config} does not exist")
    return load_section(name, config or DEFAULT_CONFIG)


def open_state(args: argparse.Namespace) -> StateDB:
    """The database the gateway reads: --state-url, else what its config says (env first)."""
    url = getattr(args, "state_url", None) or section(args, "state").url
    try:
        return StateDB(url)
    except BadStateUrl as exc:
        raise ConfigError(f"state.url: {exc}") from None


class Progress:
    """One self-rewriting line on stderr: what is being walked, how far (reconcile, reindex)."""

    def __init__(self, out: TextIO, title: str) -> None:
        self.out = out
        self.title = title
        self.shown = False

    def show(self, what: str, done: int, total: int) -> None:
        width = 30
        filled = width * done // total if total else width
        percent = 100 * done // total if total else 100
        bar = "#" * filled + "." * (width - filled)
        self.out.write(f"\r{self.title}: {what} [{bar}] {done}/{total} {percent}%  ")
        self.out.flush()
        self.shown = True

    def end(self) -> None:
        if self.shown:
            self.out.write("\n")
            self.out.flush()
