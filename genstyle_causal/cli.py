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

    from .commands import AuditRunConfig, StylizeConfig, TrainRunConfig

    train = _sub(sub, "train", TrainRunConfig,
                 "train one model (vae, gan, probe or adain) into a run directory; rerun to resume or extend")
    train.add_argument("--out", type=Path, required=True, help="run directory (config, checkpoints, metrics.jsonl, "
                       "figures, report); an existing run resumes from its saved configuration")
    _add_config_options(train)

    audit = _sub(sub, "audit", AuditRunConfig, "causal audit of a dataset oracle or a trained VAE/GAN: effect "
                 "matrix with CIs, graph (against the true DAG where known), traversals, metrics, report")
    audit.add_argument("--out", type=Path, required=True, help="run directory for the report and results.json")
    _add_config_options(audit)

    stylize = _sub(sub, "stylize", StylizeConfig, "style transfer of one content image with one or more style "
                   "images (Gatys optimisation or a trained AdaIN decoder); prints the output path")
    stylize.add_argument("content", type=Path, help="content image file")
    stylize.add_argument("styles", type=Path, nargs="+", metavar="STYLE", help="style image file(s)")
    stylize.add_argument("--out", type=Path, required=True, help="output image file (format from its suffix)")
    _add_config_options(stylize)

    bench = sub.add_parser("bench", help="run the benchmarks of a source checkout (python -m benchmarks) and "
                           "print one table; results go to benchmarks/results/*.json")
    bench.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    bench.add_argument("--quick", action="store_true", help="small sizes, a few seconds each")

    report = sub.add_parser("report", help="re-render the Markdown/HTML report of a run directory")
    report.add_argument("run_dir", type=Path, help="a run directory written by demo, train or audit")
    return p


def _sub(sub, name: str, cls, help: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with its config keys (the config dataclass's docstring)."""
    keys = cls.__doc__.split("Keys:", 1)[-1]
    return sub.add_parser(name, help=help, description=help, formatter_class=argparse.RawDescriptionHelpFormatter,
                          epilog=f"configuration keys (--set KEY=VALUE; all values: --show-config):{keys}")


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
    from .config import load_config

    cfg = load_config(cls, args.config, args.overrides)
    if args.show_config:
        _print_config(cfg)
        return None
    return cfg


def _print_config(cfg) -> int:
    import json

    from .config import to_dict

    print(json.dumps(to_dict(cfg), indent=2))
    return 0


def _demo(args) -> int:
    from .demo import DemoConfig, run_demo

    cfg = _resolve(DemoConfig, args)
    if cfg is not None:
        report = run_demo(cfg, args.out)
        print(f"report: {report.html_path.resolve()}")
    return 0


def _train(args) -> int:
    from .commands import RUN_FILE, TrainRunConfig, load_run_config, run_train

    cfg = load_run_config(TrainRunConfig, args.out / RUN_FILE, args.config, args.overrides)
    if args.show_config:
        return _print_config(cfg)
    resume = f"genstyle-causal train --out {args.out}"
    try:
        report, done = run_train(cfg, args.out)
    except KeyboardInterrupt:
        print(f"interrupted; resume with: {resume}", file=sys.stderr)
        raise
    print(f"report: {report.html_path.resolve()}")
    if done < cfg.steps:
        print(f"genstyle-causal train: stopped at step {done} of {cfg.steps} with a checkpoint; resume with: {resume}",
              file=sys.stderr)
        return 130
    return 0


def _audit(args) -> int:
    from .commands import AuditRunConfig, run_audit

    cfg = _resolve(AuditRunConfig, args)
    if cfg is not None:
        print(f"report: {run_audit(cfg, args.out).html_path.resolve()}")
    return 0


def _stylize(args) -> int:
    from .commands import StylizeConfig, run_stylize

    cfg = _resolve(StylizeConfig, args)
    if cfg is not None:
        print(run_stylize(cfg, args.content, args.styles, args.out).resolve())
    return 0


def _bench(args) -> int:
    from .commands import run_bench

    return run_bench(args.names, quick=args.quick)


def _report(args) -> int:
    from .report import Report

    rep = Report.load(args.run_dir)
    print(f"report: {rep.html_path.resolve()}")
    return 0


_COMMANDS = {"demo": _demo, "train": _train, "audit": _audit, "stylize": _stylize, "bench": _bench,
             "report": _report}

if __name__ == "__main__":
    sys.exit(main())
