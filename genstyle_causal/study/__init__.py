"""Studies: grids of VAE runs (objective × hyper-parameter × seed), each run a resumable run directory,
gathered into a leaderboard with bootstrap CIs over seeds, published values and figures.

``load_study(path)`` reads and validates a grid file, ``run_study(study, outdir, shard=(i, n), jobs=k)``
runs a slice, ``write_report(study, outdir)`` gathers whatever has finished.
"""

from .grid import DEFAULT_METRICS, RUN_DEFAULTS, RunSpec, Study, load_study, parse_shard, parse_study
from .leaderboard import LITERATURE, leaderboard
from .report import write_report
from .run import gather, run_one, run_study

__all__ = [
    "DEFAULT_METRICS", "LITERATURE", "RUN_DEFAULTS", "RunSpec", "Study", "gather", "leaderboard", "load_study",
    "parse_shard", "parse_study", "run_one", "run_study", "write_report",
]
