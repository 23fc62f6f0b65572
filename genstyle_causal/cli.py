"""Command-line entry point ``genstyle-causal``.

Every subcommand reads its configuration from the defaults of a dataclass, then an
optional ``--config`` file (TOML/JSON/YAML), then ``--set key=value`` overrides, and
writes everything it produces into one run directory. Errors print one line and
exit with status 2 — never a traceback for bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .errors import GenstyleError

_CONFIG_HELP = "TOML/JSON/YAML file with configuration values (see --show-config for the keys)"
_SET_HELP = "override one configuration value, e.g. --set vae.steps=500 (repeatable)"


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand.

    Attributes:
      name, help: as ``genstyle-causal NAME --help`` shows them.
      run: ``(args, config) -> exit status``; ``config`` is the resolved ``config`` dataclass (else ``None``).
      arguments: adds the command's own arguments to its parser.
      config: the configuration dataclass (its docstring's ``Keys:`` end ``--help``); adds ``--config``,
        ``--set`` and ``--show-config``.
      saved: ``args -> path`` of a previous run's saved configuration, read before ``--config`` and ``--set``.
    """

    name: str
    help: str
    run: Callable[[argparse.Namespace, Any], int]
    arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None
    config: type | None = None
    saved: Callable[[argparse.Namespace], Path] | None = None


COMMANDS: dict[str, Command] = {}


def register_command(command: Command) -> Command:
    COMMANDS[command.name] = command
    return command


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genstyle-causal",
        description="Train generative models in JAX and audit them causally against procedural ground truth.",
    )
    p.add_argument("--version", action="version", version=f"genstyle-causal {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for c in COMMANDS.values():
        keys = (c.config.__doc__ or "").partition("Keys:")[2]
        parser = sub.add_parser(c.name, help=c.help, description=c.help,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=f"configuration keys (--set KEY=VALUE; all values: --show-config):{keys}"
                                if keys else None)
        c.arguments(parser)
        if c.config is not None:
            parser.add_argument("--config", type=Path, help=_CONFIG_HELP)
            parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                                help=_SET_HELP)
            parser.add_argument("--show-config", action="store_true",
                                help="print the resolved configuration and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning(args.command)
        return _run(COMMANDS[args.command], args)


def _run(command: Command, args) -> int:
    """Run one command: an expected failure prints one line and returns 2."""
    try:
        cfg = None
        if command.config is not None:
            from .config import load_config, to_dict

            cfg = load_config(command.config, args.config, args.overrides,
                              saved=command.saved(args) if command.saved else None)
            if args.show_config:
                print(json.dumps(to_dict(cfg), indent=2))
                return 0
        return command.run(args, cfg)
    except (GenstyleError, OSError, MemoryError) as e:
        print(f"genstyle-causal {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genstyle-causal {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line(e: BaseException) -> str:
    """The message of an expected failure on one line (an ``OSError`` names its file)."""
    if isinstance(e, GenstyleError):
        text = str(e) or type(e).__name__
    elif isinstance(e, OSError) and e.strerror:
        text = f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    elif isinstance(e, MemoryError):
        text = f"out of memory{': ' + str(e) if str(e) else ''} (lower the sizes in the configuration)"
    else:
        text = str(e) or type(e).__name__
    return " ".join(text.split())


def _one_line_warning(command: str):
    """A ``warnings.showwarning`` that prints the package's warnings (e.g. a skipped damaged checkpoint) as one
    line each, and drops those of dependencies."""

    package = str(Path(__file__).resolve().parent)

    def show(message, category, filename, lineno, file=None, line=None):
        if str(Path(filename).resolve()).startswith(package):  # dependencies' warnings would break the one line
            print(f"genstyle-causal {command}: warning: {_one_line(Warning(message))}", file=file or sys.stderr)

    return show


# -- the commands -----------------------------------------------------------------------


def _out(help: str, default: Path | None = None):
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", type=Path, required=default is None, default=default, help=help)

    return add


def _demo(args, cfg) -> int:
    from .demo import run_demo
    from .rundir import check_run_directory, open_run

    check_run_directory(args.out, "demo", type(cfg))
    with open_run(args.out, keep=lambda p: (p / "report.json").is_file()):
        report = run_demo(cfg, args.out)
    print(f"report: {report.html_path.resolve()}")
    return 0


def _causal_generators(args, cfg) -> int:
    from .causal_generators import run_causal_generators

    print(f"report: {run_causal_generators(cfg, args.out).html_path.resolve()}")
    return 0


def _train(args, cfg) -> int:
    from .commands import run_train

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


def _audit(args, cfg) -> int:
    from .commands import run_audit

    print(f"report: {run_audit(cfg, args.out).html_path.resolve()}")
    return 0


def _stylize_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("content", type=Path, help="content image file")
    p.add_argument("styles", type=Path, nargs="+", metavar="STYLE", help="style image file(s)")
    p.add_argument("--out", type=Path, required=True, help="output image file (format from its suffix)")


def _stylize(args, cfg) -> int:
    from .commands import run_stylize

    print(run_stylize(cfg, args.content, args.styles, args.out).resolve())
    return 0


def _bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    p.add_argument("--quick", action="store_true", help="small sizes, a few seconds each")


def _bench(args, cfg) -> int:
    from .commands import run_bench

    return run_bench(args.names, quick=args.quick)


def _study_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("grid", type=Path, help="study file (TOML/JSON/YAML): seeds, protocol, [defaults] and [[grid]] "
                   "blocks of objective and swept hyper-parameters; see genstyle_causal.study.grid")
    p.add_argument("--out", type=Path, required=True, help="study directory: runs/<run>/ (each resumable), "
                   "leaderboard.json, report.md/html")
    p.add_argument("--shard", default="1/1", metavar="I/N", help="run only runs I, I+N, I+2N, ... of the grid (e.g. "
                   "one SLURM array task or Kubernetes job each, into the same --out); default 1/1: all")
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once in separate processes (default 1)")
    p.add_argument("--report-only", action="store_true", help="train nothing: gather what has finished into the report")
    p.add_argument("--list", action="store_true", help="print the run ids of this shard and exit")


def _study(args, cfg) -> int:
    from .study import load_study, parse_shard, run_study, write_report

    study, shard = load_study(args.grid), parse_shard(args.shard)
    if args.list:
        print("\n".join(r.run_id for r in study.shard(*shard)))
        return 0
    records = [] if args.report_only else run_study(study, args.out, shard=shard, jobs=args.jobs)
    print(f"report: {write_report(study, args.out).html_path.resolve()}")
    if any(r["status"] == "stopped" for r in records):
        print("genstyle-causal study: stopped; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


def _report(args, cfg) -> int:
    from .report import Report
    from .rundir import open_run

    rep = Report.load(args.run_dir)  # reads and checks everything first
    with open_run(args.run_dir, keep=lambda p: True):
        rep.render()
    print(f"report: {rep.html_path.resolve()}")
    return 0


def _register_all() -> None:
    from .commands import RUN_FILE, AuditRunConfig, StylizeConfig, TrainRunConfig
    from .causal_generators import CausalGeneratorsConfig
    from .demo import DemoConfig

    register_command(Command(
        "demo", "train a small beta-VAE and a factor probe on dsprites, audit it and the oracles, run a "
        "style/content study, and write a report (offline, ~10 min on 2 cores)", _demo,
        _out("run directory (default: runs/demo)", Path("runs/demo")), DemoConfig))
    register_command(Command(
        "causal-generators", "train an InfoGAN on dsprites and a CausalVAE on the pendulum, dissect the GAN and audit "
        "the CausalVAE against the true mechanism, and write a report (offline, ~20 min on 2 cores)", _causal_generators,
        _out("run directory (default: runs/causal-generators)", Path("runs/causal-generators")), CausalGeneratorsConfig))
    register_command(Command(
        "train", "train one model (vae, gan, probe or adain) into a run directory; rerun to resume or extend", _train,
        _out("run directory (config, checkpoints, metrics.jsonl, figures, report); an existing run resumes from "
             "its saved configuration"), TrainRunConfig, saved=lambda args: args.out / RUN_FILE))
    register_command(Command(
        "audit", "causal audit of a dataset oracle or a trained VAE/GAN: effect matrix with CIs, graph (against the "
        "true DAG where known), traversals, metrics, report", _audit,
        _out("run directory for the report and results.json"), AuditRunConfig))
    register_command(Command(
        "stylize", "style transfer of one content image with one or more style images (Gatys optimisation or a "
        "trained AdaIN decoder); prints the output path", _stylize, _stylize_arguments, StylizeConfig))
    register_command(Command(
        "bench", "run the benchmarks of a source checkout (python -m benchmarks) and print one table; results go "
        "to benchmarks/results/*.json", _bench, _bench_arguments))
    register_command(Command(
        "study", "a grid of VAE runs (objective × hyper-parameter × seed) from a study file, each run a resumable "
        "run directory; --shard i/n runs a slice, --jobs N runs in parallel; leaderboard with bootstrap CIs over "
        "seeds beside published values, figures and a report of whatever has finished", _study, _study_arguments))
    register_command(Command(
        "report", "re-render the Markdown/HTML report of a run directory", _report,
        lambda p: p.add_argument("run_dir", type=Path, help="a run directory written by demo, train or audit")))


_register_all()

if __name__ == "__main__":
    sys.exit(main())
