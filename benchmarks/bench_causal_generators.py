"""The causal-generators study end to end: GAN quality against steps, dissection, CausalVAE graph and counterfactuals.

Runs ``genstyle-causal causal-generators`` (default sizes; ``--quick``: tiny
sizes, a smoke test whose numbers mean nothing) into a temporary directory and
prints its headline numbers: the InfoGAN's Fréchet feature distance against
steps and against the real-vs-real floor, minutes to a recognisable grid, the
top dissected channels (IoU, ablation ACE), the CausalVAE's structural Hamming
distance to the pendulum DAG, its counterfactual errors per intervened
variable and its training minutes, with the machine's load average.

    python -m benchmarks.bench_causal_generators --quick
    python -m benchmarks.bench_causal_generators
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from benchmarks.common import print_table, save_results
from genstyle_causal.causal_generators import (
    CausalGeneratorsConfig, CausalVAESection, DissectSection, GANSection, ProbeSection, run_causal_generators,
)
from genstyle_causal.sections import MetricsSection

QUICK = CausalGeneratorsConfig(
    gan=GANSection(image_size=16, width=8, noise_dim=4, steps=20, batch_size=16, eval_every=10, eval_samples=64,
                   styleshapes_steps=10),
    probe=ProbeSection(steps=20, batch_size=16),
    dissect=DissectSection(samples=16, modules=2, bootstrap=50),
    metrics=MetricsSection(samples=200, votes=40, names=("mig", "sap")),
    causalvae=CausalVAESection(image_size=16, steps=20, batch_size=16, samples=16, bootstrap=50),
)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else CausalGeneratorsConfig()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        results = run_causal_generators(cfg, out).results
    wall = time.perf_counter() - t0
    gan, cvae, audit = results["gan"], results["causalvae"], results["causalvae_audit"]
    print_table([{"step": s, "frechet": fd, "floor": gan["frechet_floor"]} for s, fd in gan["frechet_by_step"]],
                f"InfoGAN on dSprites {cfg.gan.image_size}×{cfg.gan.image_size}: Fréchet feature distance "
                f"({gan['extractor']} features) against steps")
    print_table(results["dissection"]["top_channels"][:5] and [
        {"channel": r["channel"], "iou": r["iou"], "carries": r["carries"],
         **{f"ace_{k}": v["ace"] for k, v in r["ablation"].items()}} for r in results["dissection"]["top_channels"][:5]],
        "Top dissected channels")
    rows = []
    for cause in ("pendulum_angle", "light_angle"):
        for effect, e in audit["counterfactuals"][cause].items():
            rows.append({"do": cause, "variable": effect, "image_error": e["image_error"],
                         "mechanism_error": e["mechanism_error"], "readout_floor": e["readout_floor"]})
    print_table(rows, "CausalVAE counterfactual errors (variables' units)")
    summary = {
        "quick": args.quick, "wall_s": wall, "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "gan": {k: gan[k] for k in ("steps", "train_minutes", "steps_per_s", "frechet_by_step", "frechet_floor",
                                    "extractor", "recognisable_step", "minutes_to_recognisable")},
        "gan_factors": results["gan_factors"],
        "top_channels": results["dissection"]["top_channels"],
        "causalvae": {k: cvae[k] for k in ("steps", "minutes", "steps_per_s", "edges", "shd")},
        "causalvae_direct_shd": audit["direct"]["scores"].get("shd"),
        "counterfactuals": audit["counterfactuals"],
        "seconds": results["seconds"],
    }
    print(f"\nCausalVAE: {cvae['steps']} steps in {cvae['minutes']:.1f} min; learned-graph SHD {cvae['shd']}, "
          f"direct-effect audit SHD {summary['causalvae_direct_shd']}; study wall time {wall / 60:.1f} min; "
          f"load average {load_before[0]:.1f} → {summary['load_average_after'][0]:.1f}")
    save_results("causal_generators_quick" if args.quick else "causal_generators", summary)
    return summary


if __name__ == "__main__":
    main()
