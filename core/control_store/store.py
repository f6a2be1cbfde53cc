"""`ControlStore`: the one engine on a PostgreSQL URL and one object per table group.

The groups share the engine (one pool) rather than each opening its own, so `dispose()`
releases every connection and `ping()` checks the same database they use.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.control_store.engine import create_control_engine
from core.control_store.imports import Imports
from core.control_store.organizations import Organizations
from core.control_store.reverts import Reverts
from core.control_store.users import Users
from core.control_store.webhooks import Webhooks


class ControlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.organizations = Organizations(engine)
        self.users = Users(engine)
        self.imports = Imports(engine)
        self.webhooks = Webhooks(engine)
        self.reverts = Reverts(engine)

    @classmethod
    def from_url(cls, url: str) -> ControlStore:
        return cls(create_control_engine(url))

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()
