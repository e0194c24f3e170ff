"""Encoder families: one module each (its layer, checkpoint names and config.json settings), plus
the shared transformer block; ``registry.FAMILIES`` lists them."""
