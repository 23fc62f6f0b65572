"""Audits of learned generators against known ground truth.

Pure functions of a trained model and a dataset that knows its true factors
(and, for a scene, its structural causal model): how far the factor
distribution of generated samples is from the prior, how faithful a learned
structural generator's counterfactuals are to the true mechanism, and which
direct effects its images show. The causal-generators study and its notebook
call them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def factor_distribution_distance(probe, images, data) -> dict[str, float]:
    """Per factor: total variation distance between the probe-read class histogram of ``images`` and the uniform prior."""
    classes = np.asarray(probe.predict_classes(images))
    out = {}
    for i, f in enumerate(data.factors):
        if f.size is None:
            continue
        hist = np.bincount(classes[:, i], minlength=f.size) / classes.shape[0]
        out[f.name] = float(0.5 * np.abs(hist - 1.0 / f.size).sum())
    return out


def counterfactuals(task, st, gen, data, *, key, n: int = 256) -> dict:
    """Counterfactual faithfulness of a CausalVAE generator on the pendulum, in the variables' units.

    For real images: abduct the noise of the concepts the model reads, intervene
    with a fresh value from the prior, draw the image and read its variables
    with the analytic readout. For do(cause) the shadow read from the model's
    image (and the model's own shadow concepts) is compared with the true
    mechanism's shadow for the same do; the readout's own error on true
    renderings is the floor. For do(effect) the leakage is the change of the
    causes read from the image against the unintervened image.
    """
    from .causal import intervene
    from .structural import Structural

    scm = gen.stages[0].fn
    k_data, k_values = jax.random.split(key)
    f, x = data.sample(k_data, n)
    u = scm.abduct(gen.params, task.concepts(st, x))
    new = data.sample_factors(k_values, n)
    factual = np.asarray(data.measure(gen.run(u)))
    k = data.num_factors
    effects = [data.factor_index(e) for e in ("shadow_position", "shadow_length")]
    out = {}
    for name in data.factor_names:
        i = data.factor_index(name)
        values = jnp.zeros((n, k), jnp.float32).at[:, i].set(new[:, i])
        iv = Structural(jnp.arange(k) == i, values, jnp.zeros((k,), jnp.float32), jnp.zeros((k,), bool), scm.layer)
        images = intervene(gen, u, iv)
        read = np.asarray(data.measure(images))
        concepts = np.asarray(scm.solve(u, params=gen.params, set_mask=jnp.arange(k) == i, set_values=values))
        if i in effects:  # leakage into the causes
            out[name] = {"leakage": {data.factor_names[j]: float(np.mean(np.abs(read[:, j] - factual[:, j]))) for j in range(2)}}
            continue
        truth = np.asarray(data.with_factor(f, i, new[:, i]))
        floor = np.asarray(data.measure(data.render(truth)))
        out[name] = {
            data.factor_names[j]: {
                "image_error": float(np.mean(np.abs(read[:, j] - truth[:, j]))),
                "mechanism_error": float(np.mean(np.abs(concepts[:, j] - truth[:, j]))),
                "readout_floor": float(np.mean(np.abs(floor[:, j] - truth[:, j]))),
                "spread": float(np.std(truth[:, j])),
            }
            for j in effects
        }
    out["factual_error"] = {nm: float(np.mean(np.abs(factual[:, j] - np.asarray(f)[:, j]))) for j, nm in enumerate(data.factor_names)}
    return out


def direct_effect_audit(generator, scene, *, key, n: int = 256, num_bootstrap: int = 1000):
    """The direct-effect graph of a learned structural generator of ``scene``'s variables, scored against the true DAG.

    Each variable is set by a hard do while every other one but the measured
    variable is held, and the images are read with the scene's analytic
    readout (:func:`~genstyle_causal.causal.audit`). An edge needs its CI above
    the readout's error floor, which is measured on the scene's oracle: only
    its images come with known true variables.
    """
    from .causal import audit, discover

    k_floor, k_audit = jax.random.split(key)
    floor = discover(scene.oracle(), key=k_floor, n=n, num_bootstrap=num_bootstrap).floor
    return audit(generator, scene.readout(), key=k_audit, n=n, num_bootstrap=num_bootstrap, graph="direct",
                 floor=floor, reference=scene.graph())
