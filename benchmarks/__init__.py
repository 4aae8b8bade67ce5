"""Side-by-side benchmarks: floe against the tools a user would otherwise pick.

Run ``uv run python -m benchmarks --help`` from the repository root. Every case verifies at the
destination (row count and a checksum of the values) before it reports a time, runs its
variants interleaved, and reports medians and ratios measured in the same run.
"""
