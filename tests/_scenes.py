"""Structural causal models declared the way a user declares one, drawn with `genstyle_causal.data.Dots`."""

from genstyle_causal.structural import SCM, Uniform, Variable

NOISE = Uniform(-0.02, 0.02)

#: fork a → {b, e}, collider c → d ← e, chain a → b → c → d, and a parabola a → b
DOTS_SCM = SCM((
    Variable("a", 0.0, 1.0),
    Variable("b", 0.0, 1.0, ("a",), lambda p: 0.15 + 0.7 * (2 * p["a"] - 1) ** 2, NOISE),
    Variable("c", 0.0, 1.0, ("b",), lambda p: 0.2 + 0.6 * p["b"], NOISE),
    Variable("d", 0.0, 1.0, ("c", "e"), lambda p: 0.1 + 0.4 * p["c"] + 0.4 * p["e"], NOISE),
    Variable("e", 0.0, 1.0, ("a",), lambda p: 0.8 - 0.6 * p["a"], NOISE),
))

#: c confounds x → y: y = 0.1 + 0.3 x + 0.5 c, with x = 0.2 + 0.6 c + noise
CONFOUNDED_SCM = SCM((
    Variable("c", 0.0, 1.0),
    Variable("x", 0.0, 1.0, ("c",), lambda p: 0.2 + 0.6 * p["c"], Uniform(-0.1, 0.1)),
    Variable("y", 0.0, 1.0, ("c", "x"), lambda p: 0.1 + 0.3 * p["x"] + 0.5 * p["c"], Uniform(-0.05, 0.05)),
))
