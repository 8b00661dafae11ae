"""Shared test configuration.

Hypothesis runs derandomized (profile ``ci``, the default) so the suite is
deterministic; set ``HYPOTHESIS_PROFILE=dev`` for randomized exploration.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    """A fixed-seed Generator for seeded (tier b) tests."""
    return np.random.default_rng(20261126)
