"""Where a run's stdout and stderr go: files the Dagster UI shows, as with Dagster's local compute
log manager, written directly instead of mirrored.

Dagster's manager mirrors each stream to the worker's own through a `tail -F` process plus a
Python process that watches for orphans: four processes started per run, and 20-50 ms between
the step's end and the worker's while they are stopped. Nobody reads a run worker's own stdout
here (the stack discards it), so the streams are redirected to the files alone: same files, same
UI view.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from dagster._core.execution.compute_logs import redirect_to_file
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.local_compute_log_manager import (
    IO_TYPE_EXTENSION,
    LocalComputeLogManager,
)
from dagster._serdes import ConfigurableClassData
from dagster._utils import ensure_file, touch_file


class FileComputeLogManager(LocalComputeLogManager):
    """`LocalComputeLogManager` without the mirroring processes."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> FileComputeLogManager:
        # The parent builds a LocalComputeLogManager whatever the class configured.
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def capture_logs(self, log_key: Sequence[str]) -> Generator[CapturedLogContext, None, None]:
        with ExitStack() as redirects:
            for stream, io_type in (
                (sys.stdout, ComputeIOType.STDOUT),
                (sys.stderr, ComputeIOType.STDERR),
            ):
                path = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[io_type])
                ensure_file(path)
                redirects.enter_context(redirect_to_file(stream, path))
            yield CapturedLogContext(log_key)
        # As Dagster's: the file that says the capture is complete.
        touch_file(self.complete_artifact_path(log_key))
