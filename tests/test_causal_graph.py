"""Graphs from effect matrices, their comparison and drawing, and the DoWhy bridge on the pendulum oracle."""

import jax
import networkx as nx
import numpy as np
import pytest

from genstyle_causal.causal import check_acyclic, draw_graph, edge_precision_recall, effect_graph, structural_hamming_distance
from genstyle_causal.causal.effects import EffectMatrix
from genstyle_causal.data import Dots, Pendulum
from genstyle_causal.errors import ConfigError, GraphError, ShapeError, UnitError

from _scenes import CONFOUNDED_SCM


def _matrix():
    # rows a, b; columns b, c. (a→b) detected; (a→c) CI contains 0; (b→b) is a self-effect; (b→c) small but detected.
    effect = np.asarray([[2.0, 0.5], [1.0, 0.1]])
    low = np.asarray([[1.5, -0.1], [0.8, 0.05]])
    high = np.asarray([[2.5, 1.1], [1.2, 0.15]])
    return EffectMatrix(effect, low, high, np.asarray([1.0, 1.0]), ("a", "b"), ("b", "c"), 0.95)


def test_effect_graph_edges_where_the_interval_excludes_zero():
    g = effect_graph(_matrix())
    assert set(g.nodes) == {"a", "b", "c"}
    assert set(g.edges) == {("a", "b"), ("b", "c")}
    assert g.edges["a", "b"] == {"weight": 2.0, "low": 1.5, "high": 2.5, "standardized": 2.0}
    assert set(effect_graph(_matrix(), min_effect=0.2).edges) == {("a", "b")}
    with pytest.raises(ShapeError, match="3 sources"):
        effect_graph(_matrix(), sources=("x", "y", "z"))


def test_cyclic_graph_error_shows_the_cycle():
    g = nx.DiGraph([("x", "y"), ("y", "z"), ("z", "x"), ("x", "w")])
    with pytest.raises(GraphError, match="x → y → z → x"):
        check_acyclic(g)
    assert check_acyclic(nx.DiGraph([("x", "y")])) is not None


def test_structural_hamming_distance_and_edge_scores_hand_case():
    # reference a→b, b→c; found b→a (reversed: 1), b→c (right), a→c (extra: 1) → SHD 2; precision 1/3, recall 1/2
    reference = nx.DiGraph([("a", "b"), ("b", "c")])
    found = nx.DiGraph([("b", "a"), ("b", "c"), ("a", "c")])
    assert structural_hamming_distance(found, reference) == 2
    assert structural_hamming_distance(reference, reference) == 0
    assert edge_precision_recall(found, reference) == pytest.approx((1 / 3, 1 / 2))
    assert edge_precision_recall(nx.DiGraph(), reference) == (1.0, 0.0)


def test_draw_graph_marks_wrong_and_missed_edges():
    import matplotlib

    matplotlib.use("Agg")
    reference = nx.DiGraph([("a", "b"), ("b", "c"), ("a", "c")])
    ax = draw_graph(effect_graph(_matrix()), reference=reference)
    assert len(ax.patches) >= 3  # two found edges, one missed (dashed)
    ax.figure.clf()


@pytest.fixture(scope="module")
def pendulum():
    from genstyle_causal.causal.dowhy_bridge import samples_frame

    data = Pendulum(size=32, noise_std=0.3)
    return data, samples_frame(data.oracle(), data.readout(), key=jax.random.key(0), n=1000)


def test_dowhy_backdoor_estimate_agrees_with_the_do_effect(pendulum):
    # θ and φ are independent causes of the shadow, so the backdoor set is empty and the observational regression
    # slope of shadow position on θ targets the least-squares slope of E[position | do(θ)] — which the generator
    # gives directly. The permuted-placebo refuter must drive the estimate to about zero.
    from genstyle_causal.causal.dowhy_bridge import compare_with_intervention

    data, frame = pendulum
    c = compare_with_intervention(
        data.oracle(), data.readout(), data.graph(), "pendulum_angle", "shadow_position", key=jax.random.key(1),
        frame=frame, n_do=128, refuters=("placebo_treatment_refuter",), num_simulations=10,
    )
    assert c.agree, c.to_dict()
    assert c.observational.adjustment_set == ()
    half_width = (c.observational.high - c.observational.low) / 2
    assert abs(c.observational.refutations["placebo_treatment_refuter"]["new_effect"]) < half_width
    assert c.to_dict()["agree"] is True


def test_backdoor_adjustment_removes_the_confounding_bias_the_unadjusted_estimate_shows():
    # c → x, c → y, x → y with y = 0.1 + 0.3 x + 0.5 c: do(x) has slope 0.3; regressing y on x alone also picks up
    # c's path (≈ +0.75 here); adjusting for c (the backdoor set) recovers 0.3.
    from genstyle_causal.causal.dowhy_bridge import compare_with_intervention

    data = Dots(CONFOUNDED_SCM)
    c = compare_with_intervention(data.oracle(), data.readout(), data.graph(), "x", "y", key=jax.random.key(0), n=1000,
                                  n_do=128, refuters=())
    assert c.observational.adjustment_set == ("c",)
    assert c.agree and not c.unadjusted_agrees, c.to_dict()
    assert abs(c.interventional - 0.3) < 0.05 and c.unadjusted.estimate > 0.6


def test_gcm_model_over_the_pendulum_graph(pendulum):
    # Linear additive-noise mechanisms: do(θ = 0.3) holds θ at 0.3 in every sample and leaves the light (a root, not a
    # descendant of θ) at its observational distribution; both causes carry a positive arrow strength into position.
    from genstyle_causal.causal.dowhy_bridge import gcm_arrow_strengths, gcm_interventional_samples, gcm_model

    data, frame = pendulum
    scm = gcm_model(frame, data.graph(), mechanisms="linear")
    samples = gcm_interventional_samples(scm, {"pendulum_angle": 0.3}, n=500)
    np.testing.assert_allclose(samples["pendulum_angle"], 0.3)
    assert abs(samples["light_angle"].mean() - frame["light_angle"].mean()) < 0.1
    strengths = gcm_arrow_strengths(scm, "shadow_position", num_samples=200, parent_samples=frame.iloc[:200])
    assert set(strengths) == {("pendulum_angle", "shadow_position"), ("light_angle", "shadow_position")}
    assert all(v > 0 for v in strengths.values())


def test_dowhy_bridge_bad_input(pendulum):
    from genstyle_causal.causal.dowhy_bridge import backdoor_effect, compare_with_intervention, gcm_model

    data, frame = pendulum
    with pytest.raises(GraphError, match=r"nodes \['bob_colour'\] have no column"):
        backdoor_effect(frame, nx.DiGraph([("pendulum_angle", "bob_colour")]), "pendulum_angle", "bob_colour")
    with pytest.raises(GraphError, match="cycle"):
        backdoor_effect(frame, nx.DiGraph([("pendulum_angle", "light_angle"), ("light_angle", "pendulum_angle")]), "pendulum_angle", "light_angle")
    with pytest.raises(GraphError, match="'shadow_colour' is not a node"):
        backdoor_effect(frame, data.graph(), "pendulum_angle", "shadow_colour")
    with pytest.raises(ConfigError, match="unknown target 'shadow_width'"):
        compare_with_intervention(data.oracle(), data.readout(), data.graph(), "pendulum_angle", "shadow_width", key=jax.random.key(0), frame=frame)
    with pytest.raises(ConfigError, match="mechanisms"):
        gcm_model(frame, data.graph(), mechanisms="neural")
    # names are checked before DoWhy runs: no frame is drawn (frame=None would cost 1000 renders)
    with pytest.raises(UnitError, match="no variable or latent unit 'bob'"):
        compare_with_intervention(data.oracle(), data.readout(), data.graph(), "pendulum_angle", "shadow_position",
                                  key=jax.random.key(0), unit="bob")
    with pytest.raises(GraphError, match="not a node"):
        compare_with_intervention(data.oracle(), data.readout(), nx.DiGraph([("light_angle", "shadow_length")]),
                                  "pendulum_angle", "shadow_position", key=jax.random.key(0))
