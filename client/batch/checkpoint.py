"""`<file>.oliai-checkpoint.json`: every finished batch with its import id and counts, and the
batches in flight with their keys, so a re-run skips the first and re-attaches to the others."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from client.batch.options import BatchImportError, ExitCode

CHECKPOINT_VERSION = 2
# Version 1 (one batch in flight at most, as an object) is read as a version 2 with one.
READABLE_VERSIONS = (1, 2)


@dataclass
class BatchResult:
    batch: int
    first_row: int
    last_row: int
    import_id: str
    status: str
    total: int
    created: int
    updated: int
    failed: int
    error_count: int
    skipped: int = 0  # absent from checkpoints of releases before import modes
    resumed: bool = False  # finished by an earlier run of the same command

    def to_json(self) -> dict[str, Any]:
        return {camel(key): value for key, value in asdict(self).items() if key != "resumed"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchResult:
        return cls(**{_snake(key): value for key, value in data.items()}, resumed=True)


@dataclass
class InFlight:
    batch: int
    idempotency_key: str
    webhook_url: str | None
    import_id: str | None = None


@dataclass
class RunState:
    """One fingerprint's progress, as stored in the checkpoint."""

    file: str
    batch_size: int
    started_at: str
    finished: dict[int, BatchResult] = field(default_factory=dict)
    # Posted (or about to be), not finished yet: by batch number.
    in_flight: dict[int, InFlight] = field(default_factory=dict)
    errors_bytes: int = 0
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "batchSize": self.batch_size,
            "startedAt": self.started_at,
            "updatedAt": utc_now(),
            "done": self.done,
            "errorsBytes": self.errors_bytes,
            "inFlight": [
                {camel(key): value for key, value in asdict(self.in_flight[number]).items()}
                for number in sorted(self.in_flight)
            ],
            "finished": [self.finished[number].to_json() for number in sorted(self.finished)],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunState:
        in_flight = data.get("inFlight") or []
        if isinstance(in_flight, dict):  # version 1
            in_flight = [in_flight]
        posted = [
            InFlight(**{_snake(key): value for key, value in item.items()}) for item in in_flight
        ]
        finished = [BatchResult.from_json(item) for item in data.get("finished", [])]
        return cls(
            file=data["file"],
            batch_size=data["batchSize"],
            started_at=data["startedAt"],
            finished={result.batch: result for result in finished},
            in_flight={item.batch: item for item in posted},
            errors_bytes=data.get("errorsBytes", 0),
            done=data.get("done", False),
        )


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def utc_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Checkpoint:
    """`<file>.oliai-checkpoint.json`: `{"version": 2, "runs": {fingerprint: RunState}}`.

    Every save replaces the file atomically (write, fsync, rename), so a kill at any moment
    leaves either the previous or the new version. A lock file keeps two runs off one checkpoint.
    """

    def __init__(self, path: Path, input_path: Path) -> None:
        self.path = path
        self._input_path = input_path
        self._runs: dict[str, Any] = {}
        self._lock: IO[bytes] | None = None

    def __enter__(self) -> Checkpoint:
        self._acquire_lock()
        try:
            self._load()
        except BaseException:
            self._release_lock()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self._release_lock()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BatchImportError(
                f"The checkpoint {self.path} is not valid JSON ({exc}); move it away to start "
                "over.",
                ExitCode.BAD_INPUT,
            ) from None
        if data.get("version") not in READABLE_VERSIONS:
            raise BatchImportError(
                f"The checkpoint {self.path} has version {data.get('version')!r}; this client "
                f"reads versions {', '.join(map(str, READABLE_VERSIONS))}.",
                ExitCode.BAD_INPUT,
            )
        self._runs = data.get("runs", {})

    def _acquire_lock(self) -> None:
        """An exclusive lock on the input file itself (never replaced, unlike the checkpoint)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, the server's Idempotency-Key still protects
            return
        self._lock = open(self._input_path, "rb")  # noqa: SIM115 (held until __exit__)
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._release_lock()
            raise BatchImportError(
                f"Another `oliai import` is running on {self._input_path.name}.",
                ExitCode.BAD_INPUT,
            ) from None

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing releases the flock
            self._lock = None

    def state(self, run_fingerprint: str) -> RunState | None:
        data = self._runs.get(run_fingerprint)
        return RunState.from_json(data) if data else None

    def other_runs(self, run_fingerprint: str) -> int:
        return sum(1 for key in self._runs if key != run_fingerprint)

    def save(self, run_fingerprint: str, state: RunState) -> None:
        self._runs[run_fingerprint] = state.to_json()
        text = json.dumps({"version": CHECKPOINT_VERSION, "runs": self._runs}, indent=1)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)


@dataclass
class Journal:
    """A run's entry in the checkpoint: saved after every step that must survive a crash."""

    checkpoint: Checkpoint
    fingerprint: str
    state: RunState

    def save(self) -> None:
        self.checkpoint.save(self.fingerprint, self.state)
