"""The benchmark suite behind ``scripts/bench``: one module per section, run by ``python -m bench``."""
