"""The causal-generators study end to end: GAN quality against steps, dissection, CausalVAE graph and counterfactuals.

Runs ``genstyle-causal causal-generators`` (default sizes; ``--quick``: tiny
sizes, a smoke test whose numbers mean nothing) into a temporary directory and
prints its headline numbers: the InfoGAN's Fréchet feature distance against
steps and against the real-vs-real floor, minutes to a recognisable grid, the
top dissected channels (IoU, ablation ACE), the CausalVAE's structural Hamming
distance to the pendulum DAG, its counterfactual errors per intervened
variable and its training minutes, with the machine's load average.

    python -m benchmarks.bench_causal_generators --quick
    python -m benchmarks.bench_causal_generators [--parts gan causalvae]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_table, save_results
from genstyle_causal.causal_generators import (
    PARTS, CausalGeneratorsConfig, CausalVAESection, DissectSection, GANSection, ProbeSection, run_causal_generators,
)
from genstyle_causal.config import to_dict
from genstyle_causal.sections import MetricsSection

QUICK = CausalGeneratorsConfig(
    gan=GANSection(image_size=16, width=8, noise_dim=4, steps=20, batch_size=16, eval_every=10, eval_samples=64,
                   styleshapes_steps=10),
    probe=ProbeSection(steps=20, batch_size=16),
    dissect=DissectSection(samples=16, modules=2, bootstrap=50),
    metrics=MetricsSection(samples=200, votes=40, names=("mig", "sap")),
    causalvae=CausalVAESection(image_size=16, steps=20, batch_size=16, samples=16, bootstrap=50),
)


def summarize(results: dict, cfg: dict) -> dict:
    """The headline numbers of a study's ``results.json`` (either half may be missing), and print their tables."""
    out = {"seconds": results.get("seconds", {})}
    if "gan" in results:
        gan = results["gan"]
        print_table([{"step": s, "frechet": fd, "floor": gan["frechet_floor"]} for s, fd in gan["frechet_by_step"]],
                    f"InfoGAN on dSprites {cfg['gan']['image_size']}px: Fréchet feature distance ({gan['extractor']} "
                    "features) against steps")
        top = results["dissection"]["top_channels"][:5]
        print_table([{"channel": r["channel"], "iou": r["iou"], "carries": r["carries"],
                      **{f"ace_{k}": v["ace"] for k, v in r["ablation"].items()}} for r in top], "Top dissected channels")
        out |= {"gan": {k: gan[k] for k in ("steps", "train_minutes", "steps_per_s", "frechet_by_step", "frechet_floor",
                                            "extractor", "recognisable_step", "minutes_to_recognisable")},
                "gan_factors": results["gan_factors"], "top_channels": results["dissection"]["top_channels"],
                "gan_styleshapes": results.get("gan_styleshapes")}
    if "causalvae" in results:
        cvae, audit = results["causalvae"], results["causalvae_audit"]
        rows = [{"do": cause, "variable": effect, "image_error": e["image_error"], "mechanism_error": e["mechanism_error"],
                 "readout_floor": e["readout_floor"], "spread": e["spread"]}
                for cause in ("pendulum_angle", "light_angle") for effect, e in audit["counterfactuals"][cause].items()]
        print_table(rows, "CausalVAE counterfactual errors (variables' units)")
        out |= {"causalvae": {k: cvae[k] for k in ("steps", "minutes", "steps_per_s", "edges", "shd")},
                "causalvae_direct_shd": audit["direct"]["scores"].get("shd"), "counterfactuals": audit["counterfactuals"]}
        print(f"\nCausalVAE: {cvae['steps']} steps in {cvae['minutes']:.1f} min; learned-graph SHD {cvae['shd']}, "
              f"direct-effect audit SHD {out['causalvae_direct_shd']}")
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS, help="which halves to run")
    parser.add_argument("--out", type=Path, help="keep the study's run directory (report, figures) here")
    args = parser.parse_args(argv)
    cfg = dataclasses.replace(QUICK if args.quick else CausalGeneratorsConfig(), parts=tuple(args.parts))
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results = run_causal_generators(cfg, args.out or tmp).results
    wall = time.perf_counter() - t0
    summary = {"quick": args.quick, "parts": list(cfg.parts), "wall_s": wall, "load_average_before": load_before,
               "load_average_after": os.getloadavg(), **summarize(results, to_dict(cfg))}
    print(f"study wall time {wall / 60:.1f} min; load average {load_before[0]:.1f} → {summary['load_average_after'][0]:.1f}")
    name = "causal_generators" + ("_quick" if args.quick else "") + ("" if set(cfg.parts) == set(PARTS) else "_" + "_".join(cfg.parts))
    save_results(name, summary)
    return summary


if __name__ == "__main__":
    main()
