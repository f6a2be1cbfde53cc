from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.stack import Stack, running_stack

# No per-example deadline: on a busy 2-core machine one slow example is load, not a bug.
# HYPOTHESIS_PROFILE picks another registered profile (e.g. Hypothesis' own "default").
settings.register_profile("oliai", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "oliai"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the session, started exactly as `oliai up` starts it."""
    with running_stack(tmp_path_factory.mktemp("stack") / "data") as running:
        yield running
