"""A CSV the browser saves as a file: what every CSV download of the API and the UI answers."""

from __future__ import annotations

from litestar import Response


def csv_attachment(text: str, filename: str) -> Response[str]:
    """`text/csv` (Litestar adds the one `charset=utf-8`), saved as `filename`."""
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
