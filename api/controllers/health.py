"""`/health`: 200 once the API can reach its control store and Dagster, 503 otherwise."""

from __future__ import annotations

from litestar import Controller, Response, get

from api.dagster_gateway import DagsterGateway
from api.openapi_document import response
from api.schemas import Health
from core.control_store import ControlStore


class HealthController(Controller):
    path = "/health"
    tags = ["health"]  # noqa: RUF012

    @get(
        "/",
        operation_id="getHealth",
        summary="Check the service's health",
        sync_to_thread=True,
        responses={
            503: response(
                Health,
                "A store or Dagster is down",
                {
                    "status": "unavailable",
                    "checks": {"controlStore": "ok", "dagster": "unreachable"},
                },
            )
        },
    )
    def get_health(self, store: ControlStore, gateway: DagsterGateway) -> Response[Health]:
        """Liveness and readiness in one: no API key needed."""
        checks = {
            "controlStore": "ok" if store.ping() else "unreachable",
            "dagster": "ok" if gateway.reachable() else "unreachable",
        }
        healthy = all(value == "ok" for value in checks.values())
        return Response(
            Health(status="ok" if healthy else "unavailable", checks=checks),
            status_code=200 if healthy else 503,
        )
