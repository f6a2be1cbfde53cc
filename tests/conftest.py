from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.stack import Stack, running_stack

# A loaded 2-core machine makes wall-clock deadlines flaky: properties assert results, not speed.
settings.register_profile("oliai", deadline=None)
settings.load_profile("oliai")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the session, started exactly as `oliai up` starts it."""
    with running_stack(tmp_path_factory.mktemp("stack") / "data") as running:
        yield running
