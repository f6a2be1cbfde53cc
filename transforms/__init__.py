"""Pure row rules of a contacts import: Polars frames in, Polars frames out, no I/O."""

from transforms.errors import RowErrorCode
from transforms.normalize import NormalizedContacts, normalize_contacts
from transforms.upsert import UpsertPlan, plan_upsert
from transforms.wire import contacts_frame

__all__ = [
    "NormalizedContacts",
    "RowErrorCode",
    "UpsertPlan",
    "contacts_frame",
    "normalize_contacts",
    "plan_upsert",
]
