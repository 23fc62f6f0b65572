"""Command-line entry point ``genstyle-causal``.

Every subcommand reads its configuration from the defaults of a dataclass, then an
optional ``--config`` file (TOML/JSON/YAML), then ``--set key=value`` overrides, and
writes everything it produces into one run directory. Errors print one line and
exit with status 2 — never a traceback for bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import GenstyleError

_CONFIG_HELP = "TOML/JSON/YAML file with configuration values (see --show-config for the keys)"
_SET_HELP = "override one configuration value, e.g. --set vae.steps=500 (repeatable)"


def _add_config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help=_CONFIG_HELP)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=_SET_HELP)
    p.add_argument("--show-config", action="store_true", help="print the resolved configuration and exit")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genstyle-causal",
        description="Train generative models in JAX and audit them causally against procedural ground truth.",
    )
    p.add_argument("--version", action="version", version=f"genstyle-causal {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="train a small beta-VAE and a factor probe on dsprites, audit it and the "
                          "oracles, run a style/content study, and write a report (offline, ~10 min on 2 cores)")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="run directory (default: runs/demo)")
    _add_config_options(demo)

    report = sub.add_parser("report", help="re-render the Markdown/HTML report of a run directory")
    report.add_argument("run_dir", type=Path, help="a run directory written by demo, train or audit")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _COMMANDS[args.command](args)
    except (GenstyleError, FileNotFoundError) as e:
        print(f"genstyle-causal {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genstyle-causal {args.command}: interrupted", file=sys.stderr)
        return 130


def _resolve(cls, args):
    from .config import load_config, to_dict

    cfg = load_config(cls, args.config, args.overrides)
    if args.show_config:
        import json

        print(json.dumps(to_dict(cfg), indent=2))
        return None
    return cfg


def _demo(args) -> int:
    from .demo import DemoConfig, run_demo

    cfg = _resolve(DemoConfig, args)
    if cfg is not None:
        report = run_demo(cfg, args.out)
        print(f"report: {report.html_path.resolve()}")
    return 0


def _report(args) -> int:
    from .report import Report

    rep = Report.load(args.run_dir)
    print(f"report: {rep.html_path.resolve()}")
    return 0


_COMMANDS = {"demo": _demo, "report": _report}

if __name__ == "__main__":
    sys.exit(main())
