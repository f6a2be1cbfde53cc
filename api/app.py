"""The app factory: `uvicorn --factory api.app:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Request
from litestar.di import Provide
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from api.auth import authenticate
from api.controllers.health import HealthController
from api.controllers.imports import ImportsController
from api.controllers.reverts import RevertsController
from api.controllers.ui import UIController, root
from api.controllers.ui_preview import PreviewController
from api.dagster_gateway import DagsterGateway
from api.docs_page import docs_page
from api.drafts import DraftStore
from api.openapi import TimestampSchema
from api.openapi_document import INTRODUCTION, document_values
from api.problems import Problem, internal_error_handler, problem_details_plugin
from api.reverts import RevertService
from api.services import ImportService
from api.sign_in import SignInService
from api.submitter import RunSubmitter
from api.ui_auth import (
    SESSION_COOKIE,
    LoginThrottle,
    csrf_middleware,
    session_config,
    session_store,
)
from api.ui_format import register_filters
from core.contracts.timestamps import Timestamp
from core.control_store import ControlStore
from core.settings import Settings
from core.warehouse.lake import LakeLocation
from core.warehouse.reader import LakeReader

UI_DIR = Path(__file__).parent


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    store = ControlStore.from_url(settings.running_postgres_url)
    gateway = DagsterGateway(settings.resolved_dagster_url, str(settings.dagster_home))
    submitter = RunSubmitter(store, gateway)
    # Dry runs, summaries and reverts read the lake: one read-only connection per API process.
    lake = LakeReader(LakeLocation(settings.running_postgres_url, settings.resolved_lake_data_path))
    service = ImportService(
        store, gateway, submitter, settings.landing_dir, settings.staging_dir, lake
    )
    revert_service = RevertService(service, store, gateway, submitter, lake)
    sign_in_service = SignInService(store, LoginThrottle())
    sessions = session_store(settings.resolved_data_dir)
    drafts = DraftStore(settings.resolved_data_dir / "drafts")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        document_values(app.openapi_schema)
        await sessions.delete_expired()
        submitter.start()
        submitter.notify()  # anything accepted before a crash goes out first
        try:
            yield
        finally:
            submitter.stop()
            lake.close()
            gateway.close()
            store.dispose()

    def org_for_request(request: Request[Any, Any, Any]) -> str:
        # The rate limiter (which runs first) already authenticated a good key.
        org_id: str | None = request.state.get("org_id")
        return org_id if org_id is not None else authenticate(request, store)

    def rate_limit_identifier(request: Request[Any, Any, Any]) -> str:
        # Per organization when the key is good; per client address otherwise.
        try:
            request.state.org_id = authenticate(request, store)
        except Problem:
            return "addr:" + (request.client.host if request.client else "unknown")
        return "org:" + request.state.org_id

    rate_limit = RateLimitConfig(
        rate_limit=("minute", settings.rate_limit_per_minute),
        identifier_for_request=rate_limit_identifier,
        exclude=["/health", "/schema", "^/ui/", "^/static/"],
    )
    return Litestar(
        route_handlers=[
            ImportsController,
            RevertsController,
            HealthController,
            UIController,
            PreviewController,
            root,
            create_static_files_router(
                path="/static", directories=[UI_DIR / "static"], include_in_schema=False
            ),
        ],
        dependencies={
            "org_id": Provide(org_for_request, sync_to_thread=True),
            "import_service": Provide(lambda: service, sync_to_thread=False),
            "revert_service": Provide(lambda: revert_service, sync_to_thread=False),
            "store": Provide(lambda: store, sync_to_thread=False),
            "gateway": Provide(lambda: gateway, sync_to_thread=False),
            "sign_in_service": Provide(lambda: sign_in_service, sync_to_thread=False),
            "drafts": Provide(lambda: drafts, sync_to_thread=False),
            "dagster_url": Provide(lambda: settings.resolved_dagster_url, sync_to_thread=False),
        },
        plugins=[problem_details_plugin(settings.max_body_bytes), TimestampSchema()],
        # Every timestamp leaves as the API reference writes it (core/contracts/timestamps.py).
        type_encoders={Timestamp: Timestamp.wire},
        exception_handlers={Exception: internal_error_handler},
        # Rate limit, then the UI's session, then CSRF (which may need to read the form).
        middleware=[
            rate_limit.middleware,
            session_config(settings.cookie_secure).middleware,
            csrf_middleware(settings.resolved_data_dir, settings.cookie_secure),
        ],
        stores={"sessions": sessions},
        template_config=TemplateConfig(
            directory=UI_DIR / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=register_filters,
        ),
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="OliAI Contacts Imports API",
            version="1.0.0",
            description=INTRODUCTION,
            path="/schema",
            render_plugins=[docs_page()],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer"),
                    "apiKey": SecurityScheme(
                        type="apiKey", name="X-API-Key", security_scheme_in="header"
                    ),
                    # The Contacts UI's session: only the file upload takes it.
                    "session": SecurityScheme(
                        type="apiKey", name=SESSION_COOKIE, security_scheme_in="cookie"
                    ),
                }
            ),
        ),
    )
