"""Settings for every test of the workspace (loaded before any test module is imported)."""

import pytest

# The conformance suite's asserts live in floe_core: let pytest explain them as it does a
# test's own. Registered here, before any test imports the suite.
pytest.register_assert_rewrite("floe_core.sinks.testing")
