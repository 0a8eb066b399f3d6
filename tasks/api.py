"""The REST API (`surgeplan api`): submit runs, follow them, fetch their plans, cancel them.

Every route but /health needs `Authorization: Bearer <token>` with a token from
SURGEPLAN_API_TOKENS. Bodies larger than SURGEPLAN_MAX_UPLOAD_MB are refused (413) before they are
read whole. Bad input is a 422 whose `field` names what is wrong. OpenAPI docs: /docs.
"""

from __future__ import annotations

import hmac
import io
from typing import Annotated, Literal

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from decomposition.datasets import DatasetOptions
from decomposition.errors import InstanceError
from decomposition.json_format import json_path
from tasks.backend import PLAN_TABLES, TABLES, Backend, RunView, Submitted, UnknownTable
from tasks.national_options import NATIONAL_TABLES
from tasks.settings import Settings, get_settings
from tasks.store import RunStateError, UnknownRun
from tasks.submission import RunRequest

_bearer = HTTPBearer(auto_error=False, description="a token from SURGEPLAN_API_TOKENS")


class BodySizeLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, by its Content-Length or while it streams in."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse(status_code=413, content={"detail": self.message})
            return await response(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:  # a body sent without its length (chunked)
                raise HTTPException(413, self.message)
            return message

        await self.app(scope, limited_receive, send)

    @property
    def message(self) -> str:
        return (f"request body over the {self.max_bytes / 2**20:g} MiB limit (SURGEPLAN_MAX_UPLOAD_MB); "
                "send a smaller instance or raise the limit")


def _request_field(error: InstanceError, request: RunRequest) -> str:
    """The request field an instance error is about: a dataset option, the dataset, or the instance's own."""
    if error.field in DatasetOptions.model_fields:
        return f"options.{error.field}"
    if error.field in (None, "dataset") and request.dataset:
        return "dataset"
    return error.field or "instance"


def create_app(settings: Settings) -> FastAPI:
    backend = Backend(settings)
    tokens = [t.encode() for t in settings.tokens]

    def authorised(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        given = credentials.credentials.encode() if credentials else b""
        if not credentials or not any(hmac.compare_digest(given, t) for t in tokens):
            raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer <token>' with a token "
                                     "from SURGEPLAN_API_TOKENS", headers={"WWW-Authenticate": "Bearer"})

    app = FastAPI(title="surgeplan", version="0.1.0",
                  description="Plans how scarce medical equipment is shared between hospitals, depots and "
                              "stockpiles. Submit a run, follow its progress, fetch its checked plan.")
    app.add_middleware(BodySizeLimit, max_bytes=int(settings.max_upload_mb * 2**20))
    auth = [Depends(authorised)]

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"field": json_path([p for p in e["loc"] if p != "body"]) or "body", "msg": e["msg"],
                   "type": e["type"], "loc": list(e["loc"])} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(UnknownRun)
    async def _unknown(_request: Request, exc: UnknownRun) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(UnknownTable)
    async def _no_table(_request: Request, exc: UnknownTable) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(RunStateError)
    async def _state(_request: Request, exc: RunStateError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.get("/health", summary="Is the store and the broker reachable?")
    def health() -> dict:
        backend.store.runs(limit=1)
        try:
            backend.broker.ping()
            broker = "ok"
        except ConnectionError as exc:
            broker = str(exc)
        return {"store": "ok", "broker": broker}

    @app.post("/runs", dependencies=auth, status_code=201, response_model=Submitted,
              summary="Submit a run (201), or get the existing run for the same instance and config (200)")
    def submit(request: RunRequest, response: Response) -> Submitted:
        try:
            submitted = backend.submit(request)
        except InstanceError as exc:
            raise HTTPException(422, [{"field": _request_field(exc, request), "msg": str(exc),
                                       "type": "instance_error"}]) from None
        if not submitted.created:
            response.status_code = 200
        return submitted

    @app.get("/runs", dependencies=auth, response_model=list[RunView], summary="Runs, newest first")
    def runs(status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
             limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[RunView]:
        return backend.runs(status, limit)

    @app.get("/runs/{run_id}", dependencies=auth, response_model=RunView,
             summary="A run's status and progress (pieces done / total, best value so far)")
    def status(run_id: str) -> RunView:
        return backend.view(run_id)

    @app.get("/runs/{run_id}/events", dependencies=auth, summary="What happened to a run, in order")
    def events(run_id: str) -> list[dict]:
        backend.store.get(run_id)
        return [{"at": e.at.isoformat(), "kind": e.kind, "message": e.message} for e in backend.store.events(run_id)]

    @app.get("/runs/{run_id}/summary", dependencies=auth,
             summary="The plan's summary: Phi, non-covered demand per scenario, baseline, bound and gap "
                     "(a national run's: also its regions, hubs and units moved between regions)")
    def summary(run_id: str) -> dict:
        return backend.summary(run_id)

    @app.get("/runs/{run_id}/plan/{table}", dependencies=auth,
             summary=f"A plan table: {', '.join(PLAN_TABLES)}; a national run's: {', '.join(NATIONAL_TABLES)} "
                     "(404 naming the run's tables if it has no such one)")
    def plan_table(run_id: str, table: Literal[TABLES],  # type: ignore[valid-type]
                   format: Literal["json", "csv", "parquet"] = "json"):
        path = backend.table_path(run_id, table)
        if format == "parquet":
            return FileResponse(path, media_type="application/vnd.apache.parquet", filename=f"{table}.parquet")
        frame = pd.read_parquet(path)
        if format == "csv":
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False)
            return Response(buffer.getvalue(), media_type="text/csv")
        return JSONResponse(frame.to_dict(orient="records"))

    @app.post("/runs/{run_id}/cancel", dependencies=auth, response_model=RunView,
              summary="Cancel: a queued run at once, a running one within a heartbeat (its Ray pieces stop)")
    def cancel(run_id: str) -> RunView:
        return backend.cancel(run_id)

    return app


def app_from_environment() -> FastAPI:
    """The app for `uvicorn --factory` (one per server process when `surgeplan api --processes N`)."""
    return create_app(get_settings())
