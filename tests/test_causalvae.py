"""CausalVAE: the causal and mask layers against hand-solved SCMs, the acyclicity penalty, a tiny pendulum run, hard do()."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genstyle_causal.causal.graph import structural_hamming_distance
from genstyle_causal.data import Pendulum
from genstyle_causal.causal import Do, intervene, resolve
from genstyle_causal.errors import ConfigError, FactorError, UnitError
from genstyle_causal.models.causalvae import (
    CausalVAEConfig, CausalVAETask, LearnedSCM, MaskLayer, abduct, acyclicity, causal_layer, causalvae_generator,
    mask_layer,
)
from genstyle_causal.models.probe import FactorBatches
from genstyle_causal.train import TrainConfig, fit

# z0 = e0; z1 = 2 z0 + e1; z2 = −z0 + 0.5 z1 + e2 (A[j, i] is the edge j → i)
CHAIN = np.array([[0.0, 2.0, -1.0], [0.0, 0.0, 0.5], [0.0, 0.0, 0.0]], np.float32)
# a second SCM, not in topological index order: z2 = e2; z0 = 3 z2 + e0; z1 = −z0 + e1
REORDERED = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 0.0], [3.0, 0.0, 0.0]], np.float32)


def _scm(adjacency):
    """A fresh mask layer on ``adjacency`` as a LearnedSCM whose concepts span [-1, 1] (standardising is the identity)."""
    d = adjacency.shape[0]
    config = CausalVAEConfig(concepts=tuple("abc"[:d]), label_low=(-1.0,) * d, label_high=(1.0,) * d)
    graphdef, params = nnx.split(MaskLayer(d, 8, rngs=nnx.Rngs(0)))
    return LearnedSCM(graphdef, config, tuple(map(tuple, adjacency.tolist()))), {"mask": params}


def _ancestral(adjacency, eps, order):
    z = np.zeros_like(eps)
    for i in order:
        z[:, i] = eps[:, i] + z @ adjacency[:, i]
    return z


@pytest.mark.parametrize("adjacency, order", [(CHAIN, (0, 1, 2)), (REORDERED, (2, 0, 1))])
def test_causal_and_mask_layers_reproduce_a_linear_scm(adjacency, order):
    eps = np.asarray(jax.random.normal(jax.random.key(0), (5, 3)))
    expected = _ancestral(adjacency, eps, order)
    a = jnp.asarray(adjacency)
    np.testing.assert_allclose(np.asarray(causal_layer(a, jnp.asarray(eps))), expected, rtol=1e-5, atol=1e-5)
    mask = MaskLayer(3, 8, rngs=nnx.Rngs(0))  # a fresh mask layer is the linear SCM of A (its MLPs output 0)
    np.testing.assert_allclose(np.asarray(mask_layer(mask, a, jnp.asarray(expected), jnp.asarray(eps))), expected, rtol=1e-5, atol=1e-5)
    scm, params = _scm(adjacency)
    np.testing.assert_allclose(np.asarray(scm.solve(jnp.asarray(eps), params=params)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(abduct(mask, a, jnp.asarray(expected))), eps, rtol=1e-5, atol=1e-5)


def test_hard_do_recomputes_descendants_only():
    scm, params = _scm(CHAIN)
    eps = jax.random.normal(jax.random.key(1), (4, 3))
    z = np.asarray(scm.solve(eps, params=params, set_mask=jnp.asarray([False, True, False]), set_values=jnp.full((3,), 3.0)))
    e = np.asarray(eps)
    np.testing.assert_allclose(z[:, 0], e[:, 0], atol=1e-6)  # the parent keeps its value
    np.testing.assert_allclose(z[:, 1], 3.0, rtol=1e-6)
    np.testing.assert_allclose(z[:, 2], -e[:, 0] + 1.5 + e[:, 2], atol=1e-5)  # the child follows the new value


def test_acyclicity_penalty_known_values():
    assert float(acyclicity(jnp.asarray(CHAIN))) == pytest.approx(0.0, abs=1e-5)
    assert float(acyclicity(jnp.asarray(REORDERED))) == pytest.approx(0.0, abs=1e-5)
    # the 2-cycle a: 0 → 1, b: 1 → 0 gives exp([[0, a²], [b², 0]]) with trace 2 cosh(ab): h = 2 cosh(ab) − 2
    cycle = jnp.asarray([[0.0, 1.0], [0.5, 0.0]])
    assert float(acyclicity(cycle)) == pytest.approx(2 * math.cosh(0.5) - 2, rel=1e-5)
    # a self-loop of weight w: h = e^{w²} − 1
    assert float(acyclicity(jnp.asarray([[0.3, 0.0], [0.0, 0.0]]))) == pytest.approx(math.exp(0.09) - 1, rel=1e-5)


@pytest.fixture(scope="module")
def pendulum_run():
    data = Pendulum(size=16)
    task = CausalVAETask(CausalVAEConfig.for_data(data, channels=(16, 32), hidden=64, learning_rate=3e-3))
    state0 = task.init(jax.random.PRNGKey(0))
    state, history = fit(task, FactorBatches(data, 32), TrainConfig(steps=300, steps_per_call=50, log_every=50, progress=False))
    return data, task, state0, state, history


def test_tiny_run_lowers_loss_and_prunes_the_false_edge(pendulum_run):
    data, task, state0, state, history = pendulum_run
    assert history[-1]["loss"] < history[0]["loss"] - 5
    assert history[-1]["label"] < history[0]["label"]
    factors = data.sample_factors(jax.random.key(3), 256)
    start, end = task.edge_strength(state0, factors), task.edge_strength(state, factors)
    # at initialisation every forward edge has direct effect 1 (the complete DAG of the concept order)
    np.testing.assert_allclose(start[np.triu_indices(4, 1)], 1.0, atol=1e-5)
    # the two causes are independent: the false edge pendulum_angle → light_angle fades below the threshold...
    assert end[0, 1] < task.config.edge_threshold
    # ...while both true edges into shadow_position stay
    assert end[0, 2] >= task.config.edge_threshold and end[1, 2] >= task.config.edge_threshold
    assert structural_hamming_distance(task.graph(state0, factors), data.graph()) == 2  # the two forward edges too many


def test_hard_do_on_a_learned_concept_leaves_non_descendants_unchanged(pendulum_run):
    data, task, _, state, _ = pendulum_run
    g = causalvae_generator(task, state, data, key=jax.random.key(4), n=512)
    assert g.layer_names[:2] == ("latent", "variables") and g.latent_names[0] == "u_pendulum_angle"
    assert g.scm.graph().edges == task.graph(state, data.sample_factors(jax.random.key(4), 512)).edges
    u = g.sample_latent(jax.random.key(5), 16)
    base = np.asarray(g.run(u, stop="variables"))
    for concept, value in [("pendulum_angle", 0.3), ("shadow_position", 5.0), ("light_angle", 2.0)]:
        iv = resolve(g, Do(concept, value))  # on a structural generator: a hard do on the concept
        after = np.asarray(iv.edit(g, g.run(u, stop="variables"), u))
        np.testing.assert_allclose(after[:, data.factor_index(concept)], value, rtol=1e-6)
        for other in data.factor_names:
            if other != concept and other not in g.scm.descendants(concept):
                np.testing.assert_array_equal(after[:, data.factor_index(other)], base[:, data.factor_index(other)])
    images = jax.jit(intervene)(g, u, resolve(g, Do("light_angle", 2.0)))
    assert images.shape == (16, 16, 16, 3)
    with pytest.raises(UnitError, match="unknown concept 'shadow'"):
        g.scm.index("shadow")
    with pytest.raises(FactorError, match="outside the concept's range"):
        resolve(g, Do("light_angle", 5.0))


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="edges"):
        CausalVAEConfig(edges="random")
    with pytest.raises(ConfigError, match="label_low/label_high"):
        CausalVAEConfig(concepts=("a", "b"), label_low=(0.0,), label_high=(1.0,))


def test_registered_as_a_trainable_model():
    import dataclasses

    from genstyle_causal.commands import TrainRunConfig
    from genstyle_causal.registry import find_model

    cfg = TrainRunConfig(model="causalvae", dataset="pendulum", image_size=32)
    entry = find_model("causalvae")
    entry.check(cfg)
    assert entry.load is not None  # a trained run is an audit generator
    with pytest.raises(ConfigError, match="edges must be one of"):
        entry.check(dataclasses.replace(cfg, causalvae=dataclasses.replace(cfg.causalvae, edges="any")))
