"""PyTorch references of the benchmarked work, built from the package's own configs and weights.

Used only by the benchmarks (torch is never a dependency of the package): the β-VAE
training step of :class:`~genstyle_causal.models.vae.VAEConfig`'s architecture, and
a Gatys iteration through the same conv stack, weights, layers and losses as a
package :class:`~genstyle_causal.models.style.Extractor`. Each factory returns a
zero-argument callable doing one unit of work, ready for ``common.interleaved``.
"""

from __future__ import annotations

import numpy as np


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def version() -> dict:
    import torch

    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(device())}


def device():
    """CUDA when JAX itself runs on a GPU and torch sees one (compare like with like), else the CPU."""
    import jax
    import torch

    return torch.device("cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu")


def _sync(dev) -> None:
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize()


def try_peer(name: str, factory, *args, **kwargs):
    """``factory(*args, **kwargs)``, called once; ``None`` (and a printed reason) if building or running it fails
    (e.g. ``torch.compile`` without a C++ compiler)."""
    try:
        step = factory(*args, **kwargs)
        step()
        return step
    except Exception as e:  # a missing peer must not stop the package's own rows
        print(f"{name}: not measured ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})")
        return None


def vae_step(config, images: np.ndarray, *, compiled: bool = False, seed: int = 0):
    """One Adam step of the β-VAE (β = ``config.beta``, Bernoulli likelihood) on a fixed batch ``images (n, H, W, C)``."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    h, w, c_img = config.image_shape
    chans, bottom = config.channels, config.bottom
    enc, c_in = [], c_img
    for c in chans:
        enc += [nn.Conv2d(c_in, c, 4, 2, 1), nn.ReLU()]
        c_in = c
    enc = nn.Sequential(*enc, nn.Flatten(), nn.Linear(int(np.prod(bottom)), config.hidden), nn.ReLU(),
                        nn.Linear(config.hidden, 2 * config.latent))
    dec = [nn.Linear(config.latent, config.hidden), nn.ReLU(), nn.Linear(config.hidden, int(np.prod(bottom))), nn.ReLU(),
           nn.Unflatten(1, (bottom[2], bottom[0], bottom[1]))]
    outs = chans[::-1][1:] + (c_img,)
    for i, (a, b) in enumerate(zip(chans[::-1], outs)):
        dec.append(nn.ConvTranspose2d(a, b, 4, 2, 1))
        if i < len(outs) - 1:
            dec.append(nn.ReLU())
    dev = device()
    enc, dec = enc.to(dev), nn.Sequential(*dec).to(dev)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=config.learning_rate)
    x = torch.from_numpy(np.array(np.asarray(images, np.float32).transpose(0, 3, 1, 2))).to(dev)
    n = x.shape[0]

    def loss_fn(x):
        mean, logvar = enc(x).chunk(2, dim=1)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        nll = nn.functional.binary_cross_entropy_with_logits(dec(z), x, reduction="sum") / n
        kl = 0.5 * (mean**2 + logvar.exp() - logvar - 1).sum() / n
        return nll + config.beta * kl

    loss_fn = torch.compile(loss_fn) if compiled else loss_fn

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(x).backward()
        opt.step()
        _sync(dev)

    return step


def _stack_from_extractor(extractor):
    """(torch conv modules, layer names, pool kind, preprocess) of a package extractor."""
    import torch
    from flax import nnx

    net = nnx.merge(extractor.graphdef, extractor.state)
    dev = device()
    convs = []
    for conv in net.convs:
        k = np.asarray(conv.kernel[...])  # HWIO
        m = torch.nn.Conv2d(k.shape[2], k.shape[3], 3, padding=1)
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))))
            m.bias.copy_(torch.from_numpy(np.array(conv.bias[...])))
        m.requires_grad_(False)
        convs.append(m.to(dev))
    return convs, net.layer_names, net.pool, extractor.preprocess


def gatys_step(extractor, content: np.ndarray, style: np.ndarray, config, *, compiled: bool = False):
    """One Gatys iteration (loss, backward to the image, Adam, clip) with the package's losses.

    Mirrors :func:`genstyle_causal.models.style.gatys.gatys_loss` for one image: relative
    squared errors of the content features and of the Gram matrices (mean over
    positions), total variation, Adam on the pixels, projection onto [0, 1].
    """
    import torch

    config = config.resolve(extractor)
    convs, names, pool, prep = _stack_from_extractor(extractor)
    dev = device()
    layers = set(config.style_layers) | {config.content_layer}
    mean = torch.tensor(prep.mean, dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(prep.std, dtype=torch.float32, device=dev).view(1, 3, 1, 1)

    def features(img):
        x = img.flip(1) if prep.bgr else img
        x = (x * prep.scale - mean) / std
        out, it = {}, iter(convs)
        for name in names:
            if name.startswith("conv"):
                x = next(it)(x)
            elif name.startswith("relu"):
                x = torch.relu(x)
            else:
                x = torch.nn.functional.max_pool2d(x, 2) if pool == "max" else torch.nn.functional.avg_pool2d(x, 2)
            if name in layers:
                out[name] = x
                if len(out) == len(layers):
                    break
        return out

    def gram(f):
        n, c, h, w = f.shape
        f = f.reshape(n, c, h * w)
        return f @ f.transpose(1, 2) / (h * w)

    def rel(x, t):
        return ((x - t) ** 2).sum() / ((t**2).sum() + 1e-5)

    as_t = lambda a: torch.from_numpy(np.array(np.asarray(a, np.float32)[None].transpose(0, 3, 1, 2))).to(dev)
    c_img, s_img = as_t(content), as_t(style)
    with torch.no_grad():
        c_target = features(c_img)[config.content_layer]
        s_feats = features(s_img)
        s_targets = {k: gram(s_feats[k]) for k in config.style_layers}
    weights = dict(zip(config.style_layers, config.layer_weights))

    def loss_fn(img):
        f = features(img)
        c = rel(f[config.content_layer], c_target)
        s = sum(weights[k] * rel(gram(f[k]), s_targets[k]) for k in config.style_layers)
        tv = ((img[:, :, 1:] - img[:, :, :-1]) ** 2).mean() + ((img[:, :, :, 1:] - img[:, :, :, :-1]) ** 2).mean()
        return config.content_weight * c + config.style_weight * s + config.tv_weight * tv

    loss_fn = torch.compile(loss_fn) if compiled else loss_fn
    img = c_img.clone().requires_grad_(True)
    opt = torch.optim.Adam([img], lr=config.learning_rate)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(img).backward()
        opt.step()
        with torch.no_grad():
            img.clamp_(0.0, 1.0)
        _sync(dev)

    return step
