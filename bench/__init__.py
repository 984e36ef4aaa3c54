"""`python -m bench`: the benchmark suite (runs from a checkout, not installed)."""
