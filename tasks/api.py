"""The REST API (`surgeplan api`): submit runs, follow them, fetch their plans, cancel them; check a plan made
elsewhere (POST /evaluate: replayed by the independent evaluator, nothing stored).

Every route but /health needs `Authorization: Bearer <token>` with a token from
SURGEPLAN_API_TOKENS: a `read` token lists runs, reads their status, events and plans and checks
plans, a `submit` token may also submit and cancel (403 for a read token). The OpenAPI docs (/docs,
/redoc, /openapi.json) need a token too unless SURGEPLAN_API_PUBLIC_DOCS is true. Bodies larger than
SURGEPLAN_MAX_UPLOAD_MB are refused (413) before they are read whole; a submission's or a plan's body
is parsed and validated (and a plan evaluated) in a thread of a pool, so a large upload never holds up
the event loop (other requests, /health, are answered meanwhile). Bad input is a 422 whose `field`
names what is wrong.
Datasets are built-in names only: the API reads no file or directory a client names.
"""

from __future__ import annotations

import hmac
import io
import re
from datetime import datetime
from typing import Annotated, Literal, TypeVar

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from decomposition.datasets import DatasetOptions
from decomposition.errors import InstanceError, SurgeplanError, shortened
from decomposition.problem.json_format import field_of, repeated_key
from tasks.backend import PLAN_TABLES, TABLES, Backend, RunView, Submitted, utc
from tasks.errors import BrokerUnreachable, RunStateError, UnknownRun, UnknownTable
from tasks.evaluation_request import EvaluationRequest, EvaluationView, evaluate_request
from tasks.national_options import NATIONAL_TABLES
from tasks.settings import Settings, TokenRole, get_settings
from tasks.store.status import RunStatus
from tasks.submission import InstanceSelection, RunRequest

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
        return (
            f"request body over the {self.max_bytes / 2**20:g} MiB limit (SURGEPLAN_MAX_UPLOAD_MB); "
            "send a smaller instance or raise the limit"
        )


class Problem(BaseModel):
    """One thing wrong with a request: the field (a JSON path into the body, or a parameter's name)."""

    field: str
    msg: str
    type: str
    loc: list[str | int] | None = None


class Invalid(BaseModel):
    detail: list[Problem]


class Refused(BaseModel):
    detail: str


class Health(BaseModel):
    store: Literal["ok"]
    broker: Literal["ok", "unreachable"]


class EventView(BaseModel):
    at: datetime
    kind: str
    message: str


def _refusal(description: str) -> dict:
    return {"model": Refused, "description": description}


INVALID = {422: {"model": Invalid, "description": "bad input: each problem names its field"}}
UNAUTHORISED = {401: _refusal("missing or unknown token")}
READ_ONLY = {403: _refusal("a read-only token: it may not submit nor cancel")}
NO_RUN = {404: _refusal("no run with that id")}
NO_PLAN = {409: _refusal("the run has no plan (yet)")}
TOO_LARGE = {413: _refusal("body over SURGEPLAN_MAX_UPLOAD_MB")}
# The HTTP status of each product error a route lets through, answered {"detail": <its message>} by one handler
# (`error_response`); an error of a class not here is a 500. InstanceError is not here: POST /runs and POST
# /evaluate answer it themselves (`_instance_refused`), as a 422 in the shape of every other 422, whose field is
# named from the request (`_request_field`: a dataset option, the dataset or the uploaded instance's field),
# which the error alone does not know.
ERROR_STATUS: dict[type[SurgeplanError], int] = {UnknownRun: 404, UnknownTable: 404, RunStateError: 409}
RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def known_run_id(run_id: str) -> str:
    """The run id of a path; one that no run could have (any other shape: run ids are UUIDs) is a 404 at once."""
    if not RUN_ID.fullmatch(run_id):
        raise UnknownRun(f"no run with id {shortened(run_id, 40)!r}; `surgeplan runs` lists them")
    return run_id


RunId = Annotated[str, Depends(known_run_id)]


Selection = TypeVar("Selection", bound=InstanceSelection)


def parse_request(body: bytes, model: type[Selection]) -> Selection:
    """The request body as `model`, or RequestValidationError located in the body (as FastAPI's own).
    Called in a thread of a pool (off the event loop): a big instance takes seconds to validate."""
    key = repeated_key(body)  # pydantic keeps the later of two values: which one was meant is unknown
    if key is not None:
        raise RequestValidationError(
            [
                {
                    "loc": ("body",),
                    "type": "duplicate_key",
                    "msg": f"the key '{shortened(key)}' appears twice in one object; keep one",
                }
            ]
        )
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)], body=None
        ) from None


async def error_response(_request: Request, exc: SurgeplanError) -> JSONResponse:
    """A product error answered with its class's status in ERROR_STATUS (or its nearest base's) and its message."""
    status = next(ERROR_STATUS[cls] for cls in type(exc).__mro__ if cls in ERROR_STATUS)
    return JSONResponse(status_code=status, content={"detail": str(exc)})


def _request_field(error: InstanceError, request: InstanceSelection) -> str:
    """The request field an instance error is about: a dataset option, the dataset, or the instance's own."""
    if error.field in DatasetOptions.model_fields:
        return f"options.{error.field}"
    if error.field in (None, "dataset") and request.dataset:
        return "dataset"
    return error.field or "instance"


def _instance_refused(error: InstanceError, request: InstanceSelection) -> HTTPException:
    """An instance error as a 422 in the shape of every other 422, its field named in the request."""
    return HTTPException(422, [{"field": _request_field(error, request), "msg": str(error), "type": "instance_error"}])


def evaluated(request: EvaluationRequest) -> bytes:
    """The evaluator's answer as JSON (serialised here, off the event loop: a bad plan can have many violations)."""
    return evaluate_request(request).model_dump_json().encode()


def create_app(settings: Settings) -> FastAPI:
    backend = Backend(settings)
    token_roles = [(token.encode(), role) for token, role in settings.token_roles.items()]

    def token_role(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> TokenRole:
        given = credentials.credentials.encode() if credentials else b""
        role = None
        for token, its_role in token_roles:  # every token compared, in constant time: no early exit to time
            if hmac.compare_digest(given, token):
                role = its_role
        if not credentials or role is None:
            raise HTTPException(
                401,
                "missing or wrong token: send 'Authorization: Bearer <token>' with a token from SURGEPLAN_API_TOKENS",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return role

    def may_submit(role: TokenRole = Depends(token_role)) -> None:  # noqa: B008 - a closure's dependency
        if role != "submit":
            raise HTTPException(
                403,
                "this token is read-only: it lists runs and reads their status and plans; "
                "submitting and cancelling need a submit token (submit:TOKEN in "
                "SURGEPLAN_API_TOKENS)",
            )

    public_docs = settings.api_public_docs
    app = FastAPI(
        title="surgeplan",
        version="0.1.0",
        description="Plans how scarce medical equipment is shared between hospitals, depots and "
        "stockpiles. Submit a run, follow its progress, fetch its checked plan.",
        openapi_url="/openapi.json" if public_docs else None,
        docs_url="/docs" if public_docs else None,
        redoc_url="/redoc" if public_docs else None,
    )
    app.add_middleware(BodySizeLimit, max_bytes=int(settings.max_upload_mb * 2**20))
    read = [Depends(token_role)]
    write = [Depends(may_submit)]
    reading = {**UNAUTHORISED, **INVALID}
    writing = {**UNAUTHORISED, **READ_ONLY, **INVALID}

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # field_of: a whole-instance check (duplicate ids, totals) names its path inside the instance
        detail = [
            {
                "field": field_of({**e, "loc": [p for p in e["loc"] if p != "body"]}) or "body",
                "msg": e["msg"],
                "type": e["type"],
                "loc": list(e["loc"]),
            }
            for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:  # Starlette names the methods of the first route of the path only
            return JSONResponse(
                status_code=405,
                content={"detail": exc.detail},
                headers={"Allow": ", ".join(_methods_of(app, request.scope))},
            )
        return await http_exception_handler(request, exc)

    for error in ERROR_STATUS:
        app.add_exception_handler(error, error_response)

    @app.get("/health", summary="Is the store and the broker reachable?", response_model=Health)
    def health() -> Health:
        backend.store.runs(limit=1)
        try:
            backend.broker.ping()
            broker = "ok"
        except BrokerUnreachable:  # unauthenticated: say no more (the message names the broker's address)
            broker = "unreachable"
        return Health(store="ok", broker=broker)

    @app.post(
        "/runs",
        dependencies=write,
        status_code=201,
        response_model=Submitted,
        responses={
            200: {
                "model": Submitted,
                "description": "the same instance and config already had this run (force: false)",
            },
            **writing,
            **TOO_LARGE,
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunRequest"}}},
            }
        },
        summary="Submit a run (201), or get the existing run for the same instance and config (200)",
    )
    async def submit(request: Request, response: Response) -> Submitted:
        # the body is read here (413 past the limit) and validated off the event loop
        run_request = await run_in_threadpool(parse_request, await request.body(), RunRequest)
        try:
            submitted = await run_in_threadpool(backend.submit, run_request)
        except InstanceError as exc:
            raise _instance_refused(exc, run_request) from None
        if not submitted.created:
            response.status_code = 200
        return submitted

    @app.post(
        "/evaluate",
        dependencies=read,
        response_model=EvaluationView,
        responses={
            200: {"description": "the verdict: feasible, or not with every violation; the figures either way"},
            **reading,
            **TOO_LARGE,
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EvaluationRequest"}}},
            }
        },
        summary="Check a plan made elsewhere with the independent evaluator (a plan that breaks a constraint is "
        "a 200 with feasible false; nothing is stored)",
    )
    async def evaluate(request: Request) -> Response:
        # as POST /runs: read here (413 past the limit), validated and evaluated off the event loop
        evaluation_request = await run_in_threadpool(parse_request, await request.body(), EvaluationRequest)
        try:
            answer = await run_in_threadpool(evaluated, evaluation_request)
        except InstanceError as exc:
            raise _instance_refused(exc, evaluation_request) from None
        return Response(answer, media_type="application/json")

    @app.get("/runs", dependencies=read, response_model=list[RunView], responses=reading, summary="Runs, newest first")
    def runs(
        status: RunStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> list[RunView]:
        return backend.runs(status, limit)

    @app.get(
        "/runs/{run_id}",
        dependencies=read,
        response_model=RunView,
        responses={**reading, **NO_RUN},
        summary="A run's status and progress (pieces done / total, best value so far)",
    )
    def status(run_id: RunId) -> RunView:
        return backend.view(run_id)

    @app.get(
        "/runs/{run_id}/events",
        dependencies=read,
        response_model=list[EventView],
        responses={**reading, **NO_RUN},
        summary="What happened to a run, in order",
    )
    def events(run_id: RunId) -> list[EventView]:
        backend.store.get(run_id)
        return [EventView(at=utc(e.at), kind=e.kind, message=e.message) for e in backend.store.events(run_id)]

    @app.get(
        "/runs/{run_id}/summary",
        dependencies=read,
        response_model=dict,
        responses={**reading, **NO_RUN, **NO_PLAN},
        summary="The plan's summary: Phi, non-covered demand per scenario, baseline, bound and gap "
        "(a national run's: also its regions, hubs and units moved between regions)",
    )
    def summary(run_id: RunId) -> dict:
        return backend.summary(run_id)

    @app.get(
        "/runs/{run_id}/plan/{table}",
        dependencies=read,
        responses={
            200: {
                "description": "the table: JSON records, CSV or Parquet",
                "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
                },
            },
            **reading,
            404: _refusal("no run with that id, or its plan has no such table"),
            **NO_PLAN,
        },
        summary=f"A plan table: {', '.join(PLAN_TABLES)}; a national run's: {', '.join(NATIONAL_TABLES)} "
        "(404 naming the run's tables if it has no such one)",
    )
    def plan_table(
        run_id: RunId,
        table: Literal[TABLES],  # type: ignore[valid-type]
        format: Literal["json", "csv", "parquet"] = "json",
    ):
        path = backend.table_path(run_id, table)
        if format == "parquet":
            return FileResponse(path, media_type="application/vnd.apache.parquet", filename=f"{table}.parquet")
        frame = pd.read_parquet(path)
        if format == "csv":
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False)
            return Response(buffer.getvalue(), media_type="text/csv")
        return Response(frame.to_json(orient="records"), media_type="application/json")  # NaN -> null

    @app.post(
        "/runs/{run_id}/cancel",
        dependencies=write,
        response_model=RunView,
        responses={**writing, **NO_RUN, 409: _refusal("the run has ended already"), **TOO_LARGE},
        summary="Cancel: a queued run at once, a running one within a heartbeat (its Ray pieces stop)",
    )
    def cancel(run_id: RunId) -> RunView:
        return backend.cancel(run_id)

    app.openapi = lambda: _openapi_with_request_models(app)
    if not public_docs:
        _add_private_docs(app, read)
    return app


def _methods_of(app: FastAPI, scope: dict) -> list[str]:
    """Every method some route of the request's path answers (for the Allow header of a 405)."""
    methods: set[str] = set()
    for route in app.router.routes:
        if getattr(route, "path_regex", None) is not None and route.path_regex.match(scope["path"]):
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def _openapi_with_request_models(app: FastAPI) -> dict:
    """The OpenAPI document, with RunRequest, EvaluationRequest and their parts among the components (POST /runs
    and POST /evaluate read their bodies themselves, to validate them off the event loop, so FastAPI does not
    add them)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _, definitions = models_json_schema(
            [(RunRequest, "validation"), (EvaluationRequest, "validation")], ref_template="#/components/schemas/{model}"
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions["$defs"])
        app.openapi_schema = schema
    return app.openapi_schema


def _add_private_docs(app: FastAPI, read: list) -> None:
    """/openapi.json, /docs and /redoc behind a token (SURGEPLAN_API_PUBLIC_DOCS is false)."""
    denied = UNAUTHORISED

    @app.get("/openapi.json", dependencies=read, include_in_schema=False, responses=denied)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", dependencies=read, include_in_schema=False, responses=denied)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - docs")

    @app.get("/redoc", dependencies=read, include_in_schema=False, responses=denied)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - ReDoc")


def app_from_environment() -> FastAPI:
    """The app for `uvicorn --factory` (one per server process when `surgeplan api --processes N`)."""
    return create_app(get_settings())
