"""Command-line entry point ``genstyle-causal``."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genstyle-causal",
        description="Train generative models in JAX and audit them causally against procedural ground truth.",
    )
    p.add_argument("--version", action="version", version=f"genstyle-causal {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
