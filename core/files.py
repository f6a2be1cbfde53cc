"""One way to replace a file atomically: readers see the old file or the whole new one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def replace_atomically(path: Path, write: Callable[[Path], object], *, durable: bool) -> None:
    """`write` fills a temp file beside `path`, which then replaces `path` in one rename.

    `durable` also fsyncs the file and its directory, so a crash after we return cannot lose it:
    the landing zone needs that (a 202 was promised), staging files do not (a re-run rebuilds
    them), and fsync costs milliseconds on the request path.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    if durable:
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if durable:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_if_changed(path: Path, text: str) -> None:
    """`path` replaced atomically by `text`, unless it holds `text` already (running processes
    may be reading it: they see the old file or the new one)."""
    if not path.exists() or path.read_text() != text:
        replace_atomically(path, lambda tmp: tmp.write_text(text), durable=False)
