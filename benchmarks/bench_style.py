"""Style transfer speed: Gatys iterations/s (package vs PyTorch eager, same VGG16 layers and loss) and AdaIN images/s.

Gatys: the shipped trained VGG16 (``conv1_1..conv4_1``; style ``relu1_1..relu4_1``,
content ``relu4_1``), relative-error content and Gram losses plus total variation,
Adam on the image, at 256² and 512². One iteration = forward, backward and Adam
update. The PyTorch peer (when torch is installed) has the same weights, layers,
loss and optimiser; the two run interleaved, ``REPEATS`` times, and the table
gives the median and the spread (min–max). AdaIN: the shipped model (VGG16 to
``relu3_1`` and its decoder), one feed-forward pass per image.

``python -m benchmarks.bench_style [--quick]``
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np
from flax import nnx

from benchmarks.common import print_table, save_results
from genstyle_causal.data import sample_image
from genstyle_causal.models.style import GatysConfig, adain_transfer, default_extractor, gatys_transfer, shipped_adain

REPEATS = 5


def _gatys_package(content, style, steps: int):
    config = GatysConfig(steps=steps)
    ext = default_extractor()
    return lambda: jax.block_until_ready(gatys_transfer(content, style, extractor=ext, config=config))


def _gatys_torch(content, style, steps: int):
    """The same Gatys optimisation in PyTorch eager: returns a callable that runs ``steps`` iterations."""
    import torch
    import torch.nn.functional as F

    ext = default_extractor()
    net = nnx.merge(ext.graphdef, ext.state)
    convs = [(torch.from_numpy(np.asarray(c.kernel.value).transpose(3, 2, 0, 1).copy()),
              torch.from_numpy(np.asarray(c.bias.value))) for c in net.convs]
    blocks = [len(b) for b in net.widths]
    mean = torch.tensor(ext.preprocess.mean).view(1, 3, 1, 1)
    std = torch.tensor(ext.preprocess.std).view(1, 3, 1, 1)
    cfg = GatysConfig(steps=steps).resolve(ext)

    def features(x):
        out, h, it = {}, (x - mean) / std, iter(convs)
        for b, n in enumerate(blocks, start=1):
            for i in range(1, n + 1):
                w, bias = next(it)
                h = F.relu(F.conv2d(h, w, bias, padding=1))
                out[f"relu{b}_{i}"] = h
            if b < len(blocks):
                h = F.max_pool2d(h, 2)
        return out

    def gram(f):
        n, c, hh, ww = f.shape
        f = f.reshape(n, c, hh * ww)
        return f @ f.transpose(1, 2) / (hh * ww)

    def rel(x, t):
        return ((x - t) ** 2).sum() / ((t ** 2).sum() + 1e-5)

    def to_torch(a):
        return torch.from_numpy(np.asarray(a).transpose(2, 0, 1)[None].copy())

    c, s = to_torch(content), to_torch(style)

    def run():  # targets included, as in gatys_transfer
        with torch.no_grad():
            target = features(c)[cfg.content_layer]
            grams = {k: gram(v) for k, v in features(s).items() if k in cfg.style_layers}
        x = c.clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=cfg.learning_rate)
        for _ in range(steps):
            opt.zero_grad()
            f = features(x)
            tv = ((x[:, :, 1:] - x[:, :, :-1]) ** 2).mean() + ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).mean()
            loss = (cfg.content_weight * rel(f[cfg.content_layer], target)
                    + cfg.style_weight * sum(rel(gram(f[k]), grams[k]) for k in cfg.style_layers)
                    + cfg.tv_weight * tv)
            loss.backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(0.0, 1.0)
        return x

    return run


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_gatys(size: int, steps: int, repeats: int) -> list[dict]:
    content, style = sample_image("chelsea", size), sample_image("brick", size)
    runs = {"package (jax)": _gatys_package(content, style, steps)}
    try:
        import torch

        runs[f"pytorch {torch.__version__} eager ({torch.get_num_threads()} threads)"] = _gatys_torch(content, style,
                                                                                                    steps)
    except ImportError:
        pass
    first = {name: _time(fn) for name, fn in runs.items()}  # jax compiles here
    times = {name: [] for name in runs}
    for _ in range(repeats):  # interleaved, so both see the same machine load
        for name, fn in runs.items():
            times[name].append(_time(fn))
    rows = []
    for name, t in times.items():
        rate = steps / np.asarray(t)
        rows.append({"gatys": name, "size": f"{size}²", "steps": steps, "it/s median": float(np.median(rate)),
                     "it/s min": float(rate.min()), "it/s max": float(rate.max()),
                     "first call s": first[name]})
    return rows


def bench_adain(size: int, batch: int, repeats: int) -> dict:
    model = shipped_adain()
    content = np.stack([sample_image("chelsea", size)] * batch)
    style = sample_image("brick", size)

    def run():
        jax.block_until_ready(adain_transfer(model, content, style))

    first = _time(run)
    t = np.asarray([_time(run) for _ in range(repeats)])
    rate = batch / t
    return {"adain": f"shipped ({model.config.layer})", "size": f"{size}²", "batch": batch,
            "images/s median": float(np.median(rate)), "images/s min": float(rate.min()),
            "images/s max": float(rate.max()), "first call s": first}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    args = ap.parse_args()
    repeats = 2 if args.quick else REPEATS
    load = os.getloadavg()
    gatys = [row for size in (256, 512) for row in bench_gatys(size, 2 if args.quick else 10, repeats)]
    print_table(gatys, f"Gatys iterations/s, VGG16 to relu4_1 (load average at start {load[0]:.1f})")
    adain = [bench_adain(256, 1, repeats), bench_adain(256, 8, repeats), bench_adain(512, 1, repeats)]
    print_table(adain, "AdaIN images/s")
    save_results("style", {"quick": args.quick, "load_average_at_start": load, "gatys": gatys, "adain": adain})


if __name__ == "__main__":
    main()
