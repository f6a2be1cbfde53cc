"""How the Contacts UI writes numbers and counted words: Jinja filters registered on the app's
template engine (`90,000 rows`, `1 row`)."""

from __future__ import annotations

from litestar.plugins.jinja import JinjaTemplateEngine


def thousands(value: int) -> str:
    return f"{value:,}"


def counted(value: int, singular: str, plural: str | None = None) -> str:
    """`1 row`, `2 rows`, `90,000 rows`; `plural` for words that add more than an s."""
    word = singular if value == 1 else plural or singular + "s"
    return f"{value:,} {word}"


def register_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(thousands=thousands, counted=counted)
