"""Structural generators: hard do() on any variable, and direct vs total graphs recovered with default arguments.

Known answers come from the declared SCMs: a hard do leaves non-descendants bit-identical; the direct graph is the
DAG and the total graph its transitive closure. Three scenes: the pendulum (depth 1), the shipped sprinkler (fork,
collider, chain of 3, a bell curve) and an SCM declared in tests/_scenes.py the way a user declares one, drawn by
`Dots`: a different structure (fork a → {b, e}, collider c → d ← e, chain a → b → c → d, a parabola) and a readout
with crosstalk.
"""

import json

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from genstyle_causal.causal import Do, Shift, audit, discover, do_batch, intervene, intervention_type, sweep, truth_graph
from genstyle_causal.data import Dots, Pendulum, Sprinkler
from genstyle_causal.errors import ConfigError, FactorError, GraphError, ShapeError, UnitError
from genstyle_causal.generator import Generator, Stage
from genstyle_causal.structural import SCM, Variable

from _scenes import DOTS_SCM

DOTS = Dots(DOTS_SCM)  # an SCM declared in tests/_scenes.py as a user would, drawn as dots
SPRINKLER = Sprinkler(size=32)


# -- hard interventions ---------------------------------------------------------------------------------------------


def test_hard_do_keeps_non_descendants_and_recomputes_descendants():
    g = DOTS.oracle()
    u = g.sample_latent(jax.random.key(0), 16)
    before, after = g.run(u, stop="variables"), intervene(g, u, None)
    v = Do("b", 0.9).bind(g).edit(g, before, u)
    np.testing.assert_array_equal(v[:, [0, 4]], before[:, [0, 4]])  # a, e: not descendants of b, bit-identical
    np.testing.assert_array_equal(v[:, 1], np.float32(0.9))
    np.testing.assert_allclose(v[:, 2], 0.2 + 0.6 * 0.9 + DOTS.scm.abduct(before)[:, 2], rtol=1e-6)  # c = f(b) + own noise
    np.testing.assert_allclose(v[:, 3], 0.1 + 0.4 * v[:, 2] + 0.4 * before[:, 4] + DOTS.scm.abduct(before)[:, 3], rtol=1e-6)
    # the image follows: the readout sees b at 0.9 (up to the crosstalk of the neighbouring rows' dots) and c moved
    measured = DOTS.measure(intervene(g, u, Do("b", 0.9)))
    np.testing.assert_allclose(measured[:, 1], 0.9, atol=0.06)
    assert np.all(np.abs(np.asarray(measured[:, 2] - DOTS.measure(after)[:, 2])) > 0.0)


def test_shift_and_joint_do_on_variables():
    g = SPRINKLER.oracle()
    u = g.sample_latent(jax.random.key(1), 8)
    v = g.run(u, stop="variables")
    shifted = Shift("rain", 0.05).bind(g).edit(g, v, u)
    np.testing.assert_allclose(shifted[:, 1], v[:, 1] + 0.05, rtol=1e-6)
    np.testing.assert_array_equal(shifted[:, [0, 2]], v[:, [0, 2]])
    np.testing.assert_allclose(shifted[:, 3], v[:, 3] + 0.4 * 0.05, rtol=1e-5)
    joint = Do(("rain", "sprinkler"), (0.2, 0.7)).bind(g).edit(g, v, u)
    np.testing.assert_array_equal(joint[:, 1:3], np.broadcast_to([0.2, 0.7], (8, 2)).astype(np.float32))
    np.testing.assert_array_equal(joint[:, 0], v[:, 0])
    # a latent noise unit is still a latent: do(u_rain) is a soft change of rain that keeps season
    soft = g.run(Do("u_rain", 0.0).bind(g).edit(g, u, u), stop="variables")
    np.testing.assert_array_equal(soft[:, 0], v[:, 0])


def test_a_batch_of_variable_interventions_sweeps_like_one_at_a_time():
    g = SPRINKLER.oracle()
    u = g.sample_latent(jax.random.key(2), 4)
    read = SPRINKLER.readout()
    out = sweep(g, u, do_batch(["wet", "season"], [0.3, 0.8], generator=g), read)
    np.testing.assert_allclose(out[0], read(intervene(g, u, Do("wet", 0.3))), atol=1e-6)
    np.testing.assert_allclose(out[1], read(intervene(g, u, Do("season", 0.8))), atol=1e-6)


def test_a_user_defined_intervention_follows_the_protocol():
    @intervention_type(data=("gain",), meta=("layer",))
    class Scale:
        layer: str
        gain: float

        def edit(self, generator, h, z):
            return h * self.gain

    g = DOTS.oracle()
    u = g.sample_latent(jax.random.key(3), 4)
    np.testing.assert_allclose(intervene(g, u, Scale("latent", 0.5)), g(0.5 * u))
    np.testing.assert_allclose(sweep(g, u, Scale("latent", jnp.asarray([0.5, 1.0])), DOTS.readout())[1], DOTS.readout()(g(u)), atol=1e-6)


# -- direct and total graphs with default arguments ---------------------------------------------------------------------


@pytest.mark.parametrize("scene", [DOTS, SPRINKLER, Pendulum(size=32)], ids=lambda s: s.name)
def test_default_audit_finds_the_dag_and_its_closure(scene):
    g = scene.oracle()
    direct = audit(g, key=jax.random.key(0))
    total = audit(g, key=jax.random.key(0), graph="total")
    assert direct.kind == "direct" and set(direct.graph.edges) == set(scene.graph().edges), direct.effects.low
    assert total.kind == "total" and set(total.graph.edges) == set(nx.transitive_closure_dag(scene.graph()).edges)
    assert direct.scores["shd"] == 0 and total.scores["shd"] == 0
    assert set(total.reference.edges) == set(truth_graph(scene.graph(), "total").edges)
    json.dumps(direct.to_dict())


def test_dots_needs_its_floor_and_its_levels():
    # Neighbouring rows' dots leak into each band (crosstalk): the floor is positive somewhere, and every null cell
    # stays below its floor. The parabola a → b is symmetric about 0.5, so a two-level contrast at the 10 % and 90 %
    # quantiles is about 0 while the dispersion over five levels is large.
    found = discover(DOTS.oracle(), key=jax.random.key(1), kind="total")
    assert found.floor.max() > 0
    null = ~nx.to_numpy_array(truth_graph(DOTS.graph(), "total"), nodelist=DOTS.factor_names, dtype=bool) & ~np.eye(5, dtype=bool)
    assert np.all(found.effects.low[null] <= found.floor[null])
    assert found.effects.low[0, 1] > 0.1
    g = DOTS.oracle()
    u = g.sample_latent(jax.random.key(2), 256)
    a = np.quantile(np.asarray(g.run(u, stop="variables")[:, 0]), [0.1, 0.9])
    contrast = DOTS.measure(intervene(g, u, Do("a", a[1])))[:, 1] - DOTS.measure(intervene(g, u, Do("a", a[0])))[:, 1]
    assert abs(float(contrast.mean())) < 0.02


def test_a_learned_generator_keeps_its_own_unit_names():
    # Regression: a 4-latent generator audited against the pendulum used to be renamed to the pendulum's variables
    # and scored against its DAG. Now it keeps z0..z3 and has no reference unless one is given.
    oracle = Pendulum(size=16).oracle()

    def render(params, z):
        del params
        return oracle.run(jnp.stack([z[:, 1], z[:, 0], z[:, 2], z[:, 3]], axis=1), start="variables")

    def prior(key, n):
        return oracle.sample_latent(key, n)[:, [1, 0, 2, 3]]

    learned = Generator([Stage("image", render)], latent_names=("z0", "z1", "z2", "z3"), prior=prior, name="vae")
    result = audit(learned, Pendulum(size=16), key=jax.random.key(0), n=32, num_bootstrap=100)
    assert result.effects.unit_names == ("z0", "z1", "z2", "z3") and result.reference is None and "shd" not in result.scores
    assert all(u.startswith("z") for u, _ in result.graph.edges) and "direct and total graphs coincide" in result.note


# -- bad input ------------------------------------------------------------------------------------------------------------


def test_structural_bad_input():
    g = SPRINKLER.oracle()
    u = g.sample_latent(jax.random.key(0), 2)
    with pytest.raises(UnitError, match=r"unknown latent unit 'puddle'; valid names: \['u_season'.*variables: \['season'"):
        intervene(g, u, Do("puddle", 0.5))
    with pytest.raises(FactorError, match=r"do\(wet = 1.5\) is outside the variable's range \[0, 1\]"):
        intervene(g, u, Do("wet", 1.5))
    with pytest.raises(UnitError, match="cannot mix variables and latent units"):
        intervene(g, u, Do(("wet", "u_season"), (0.5, 0.5)))
    with pytest.raises(GraphError, match="cycle x → y → x|cycle y → x → y"):
        SCM((Variable("x", 0, 1, ("y",), lambda p: p["y"]), Variable("y", 0, 1, ("x",), lambda p: p["x"])))
    with pytest.raises(GraphError, match="unknown parent"):
        SCM((Variable("x", 0, 1, ("w",), lambda p: p["w"]),))
    bad = SCM((Variable("x", 0, 1), Variable("y", 0, 1, ("x",), lambda p: jnp.stack([p["x"], p["x"]], 1))))
    with pytest.raises(ShapeError, match="mechanism of variable 'y' must map"):
        bad.check_mechanisms()
    with pytest.raises(ConfigError, match="graph must be one of"):
        audit(g, key=jax.random.key(0), graph="causal")
    with pytest.raises(ConfigError, match="pass floor="):
        discover(Generator(g.stages, latent_names=g.latent_names, prior=g.prior, scm=g.scm, name="copy"),
                 SPRINKLER.readout(), key=jax.random.key(0), n=4)
