"""Command line: every setting as ``--flag`` and ``RELAY_*`` variable; ``main(argv=None)``."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from proxy import __version__, logs, server
from proxy.config import SETTINGS, ConfigError, from_sources


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="livechat-relay", description="Odoo Livechat Relay.",
                                epilog="Every flag can also be set as the RELAY_* variable shown.")
    p.add_argument("--version", action="version", version=__version__)
    for s in SETTINGS:
        default = f"default {s.default}" if s.default is not None else "no default"
        p.add_argument(s.flag, dest=s.name, metavar=s.name.split("_")[-1].upper(),
                       help=f"{s.help} [{s.env}; {default}]")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = from_sources(vars(args), os.environ)
    except ConfigError as exc:
        print(f"livechat-relay: {exc}", file=sys.stderr)
        return 2
    logs.setup(settings.log_level)
    from proxy.app import make_app  # after logging is set up
    try:
        app = make_app(settings)
    except ConfigError as exc:
        print(f"livechat-relay: {exc}", file=sys.stderr)
        return 2
    host, port = settings.listen
    logging.getLogger("relay").info("listening", extra={"host": host, "port": port})
    server.run(app, host, port, header_timeout=settings.header_timeout, shutdown_timeout=10,
               max_connections_per_ip=None if settings.trust_forwarded else settings.max_connections_per_ip)
    return 0
