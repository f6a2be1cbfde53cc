"""The optional request fields that change how an import's rows are applied, as the wire names
them: the bulk API, the Contacts UI upload, `oliai import` and the Python client send them, the
run reads them back from the landed request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ImportMode(StrEnum):
    """What an import may do to the organization's contacts (docs/api.md#import-options)."""

    UPSERT = "upsert"  # create new numbers, update existing ones (the default)
    CREATE_ONLY = "createOnly"  # existing contacts are left untouched: their rows are skipped
    UPDATE_ONLY = "updateOnly"  # new numbers are not created: their rows are skipped

    @property
    def creates(self) -> bool:
        return self is not ImportMode.UPDATE_ONLY

    @property
    def updates(self) -> bool:
        return self is not ImportMode.CREATE_ONLY


@dataclass(frozen=True)
class ApplyOptions:
    # ISO 3166-1 alpha-2, uppercase: numbers without + are read as dialled there.
    default_country: str | None = None
    mode: ImportMode = ImportMode.UPSERT

    @classmethod
    def of(cls, default_country: str | None, mode: str | None = None) -> ApplyOptions:
        """From the fields as given (the country in any case: people type `in`; the API itself
        takes uppercase only, as ISO 3166-1 writes it; absent means the default)."""
        country = default_country.upper() if default_country else None
        return cls(country, ImportMode(mode) if mode else ImportMode.UPSERT)

    @classmethod
    def from_wire(cls, request: Mapping[str, Any]) -> ApplyOptions:
        return cls.of(request.get("defaultCountry"), request.get("mode"))

    def wire_fields(self) -> dict[str, str]:
        """The request fields of the options not at their default: a request without options
        stays byte for byte what it was (Idempotency-Keys compare bodies)."""
        fields: dict[str, str] = {}
        if self.default_country is not None:
            fields["defaultCountry"] = self.default_country
        if self.mode is not ImportMode.UPSERT:
            fields["mode"] = self.mode.value
        return fields
