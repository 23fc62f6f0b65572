"""Generative models, the factor probe and style transfer (Flax NNX)."""
