"""Feedback types on pages and in the API: the admin page (types, the model in use with its scores, the history of
models, "Retrain now"), training a classifier on an admin's own labelled file (upload → pick the columns → the
cross-validation runs as a job while the page polls → accept or discard), and correcting an item's type from the
inbox's detail pane.

Viewers read types and models, members correct an item's type, admins edit types and train, activate and delete
models.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from prodops.domains.feedback.routes.inbox import _after_write, _refused
from prodops.domains.feedback.service import text_models, types
from prodops.domains.feedback.service.text_models import TextModelOut
from prodops.domains.feedback.service.types import FeedbackTypeIn, FeedbackTypeOut, InsightTypeOut, TypeCorrection
from prodops.platform import audit, registry
from prodops.platform.deps import ADMIN, AdminUser, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import Conflict, ServiceError, ValidationFailed
from prodops.platform.identity.service import actor_for
from prodops.platform.tabular import TabularError, load_upload, read_table, save_upload
from prodops.platform.web import errors_of, flash, is_htmx, render
from prodops.platform.web.charts import chart

router = registry.router(APIRouter(include_in_schema=False))
registry.nav("Feedback types", "/admin/feedback/types", section="Administration", order=46, min_role="admin")

PAGE = "/admin/feedback/types"
MODELS = "/admin/feedback/text-models"
FormText = Annotated[str, Form(max_length=200)]


def _jobs() -> Any:
    from prodops.domains.feedback import jobs

    return jobs


# --- the types page -------------------------------------------------------------------------------


def history_chart(models: list[TextModelOut]) -> dict[str, Any]:
    """Cross-validated macro-F1 of every ready model, in the order they were made."""
    values = [
        {
            "created": m.created_at.isoformat(),
            "macro_f1": m.macro_f1,
            "model": f"#{m.id} {m.name}",
            "state": "in use" if m.active else "not in use",
        }
        for m in reversed(models)
        if m.macro_f1 is not None
    ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": values},
        "mark": {"type": "line", "point": {"filled": True, "size": 70}, "tooltip": True},
        "encoding": {
            "x": {"field": "created", "type": "temporal", "title": "Trained"},
            "y": {
                "field": "macro_f1",
                "type": "quantitative",
                "title": "Macro-F1 (cross-validated)",
                "scale": {"zero": False},
            },
            "tooltip": [
                {"field": "model", "type": "nominal", "title": "Model"},
                {"field": "macro_f1", "type": "quantitative", "title": "Macro-F1", "format": ".3f"},
                {"field": "state", "type": "nominal", "title": "State"},
            ],
        },
        "width": "container",
        "height": 160,
    }


def _types_context(
    session: SessionDep, errors: dict[str, str] | None = None, form: dict[str, str] | None = None
) -> dict[str, Any]:
    model = types.current_model(session)
    history = types.model_history(session)
    type_list = types.list_types(session)
    learned = set() if model is None else {model.keys.get(label, label) for label in model.labels}
    return {
        "types": type_list,
        "model": model,
        "learned": learned,
        "rules": {} if model is not None and model.source == "custom" else _rules(learned),
        "history": history,
        "chart": chart(history_chart(history), title="Macro-F1 of each model over time", height=180)
        if sum(1 for m in history if m.macro_f1 is not None) > 1
        else None,
        "counts": types.type_counts(session),
        "corrections": types.correction_count(session),
        "errors": errors or {},
        "form": form or {"label": ""},
        "audit": types.recent_changes(session),
        "min_examples": types.MIN_EXAMPLES,
        "correction_weight": types.CORRECTION_WEIGHT,
        "tolerance": types.RETRAIN_TOLERANCE,
        "other_below": types.OTHER_BELOW,
    }


def _rules(learned: set[str]) -> dict[str, str]:
    rules = {
        "other": f"when the model's best probability is below {types.OTHER_BELOW:.2f}",
        "question": "a help-seeking question the model does not confidently call a bug or feature request",
        "complaint": "what the model calls experience, with clearly negative sentiment",
    }
    return {k: v for k, v in rules.items() if k not in learned}


@router.get(PAGE, response_class=HTMLResponse, dependencies=[ADMIN])
def types_page(request: Request, session: SessionDep) -> Response:
    return render(request, "feedback/types.html", _types_context(session))


def _back(request: Request, message: str) -> Response:
    flash(request, message)
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE)
def type_add(request: Request, session: SessionDep, admin: AdminUser, label: FormText = "") -> Response:
    try:
        created = types.add_type(session, actor_for(admin), FeedbackTypeIn(label=label))
    except (ValidationError, ServiceError) as exc:
        context = _types_context(session, errors_of(exc), {"label": label})
        return render(request, "feedback/types.html", context, status_code=422)
    return _back(
        request,
        f"Type {created.label} added. Correct items to it in the inbox; after {types.MIN_EXAMPLES} "
        "corrections retraining learns it.",
    )


@router.post(PAGE + "/{key}/rename")
def type_rename(request: Request, session: SessionDep, admin: AdminUser, key: str, label: FormText = "") -> Response:
    try:
        renamed = types.rename_type(session, actor_for(admin), key, label)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        errors = {f"rename-{key}": next(iter(errors_of(exc).values()))}
        return render(request, "feedback/types.html", _types_context(session, errors), status_code=422)
    return _back(request, f"Renamed to {renamed.label}.")


@router.post(PAGE + "/{key}/active")
def type_active(
    request: Request, session: SessionDep, admin: AdminUser, key: str, active: Annotated[bool, Form()] = False
) -> Response:
    try:
        changed = types.set_type_active(session, actor_for(admin), key, active)
    except ValidationFailed as exc:
        flash(request, exc.message, "error")
        return RedirectResponse(PAGE, status_code=303)
    verb = "restored" if changed.active else "retired: the model no longer gives it; items keep it until re-analysed"
    return _back(request, f"{changed.label} {verb}.")


@router.post(PAGE + "/{key}/move")
def type_move(
    request: Request, session: SessionDep, admin: AdminUser, key: str, offset: Annotated[int, Form(ge=-50, le=50)] = 0
) -> Response:
    types.move_type(session, actor_for(admin), key, offset)
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/retrain")
def retrain_now(request: Request, session: SessionDep, admin: AdminUser) -> Response:
    model = types.current_model(session)
    if model is not None and model.source == "custom":
        flash(request, "The model in use was trained on your own labels: train it again from an updated file.", "error")
        return RedirectResponse(PAGE, status_code=303)
    _jobs().retrain_type_model_now()
    return _back(
        request,
        "Retraining on the built-in data and every correction (about a minute). The new model appears in the history "
        "below, in use or with the reason it was not.",
    )


# --- train on your own labels --------------------------------------------------------------------


def _columns_context(
    upload_id: str,
    filename: str,
    headers: list[str],
    preview: list[dict[str, str]],
    form: dict[str, Any],
    errors: dict[str, str],
) -> dict[str, Any]:
    return {
        "upload_id": upload_id,
        "filename": filename,
        "headers": headers,
        "preview": preview,
        "form": form,
        "errors": errors,
    }


@router.get(MODELS + "/new", response_class=HTMLResponse, dependencies=[ADMIN])
def model_new(request: Request) -> Response:
    return render(request, "feedback/text_model_new.html", {"errors": {}})


@router.post(MODELS + "/new")
async def model_upload(request: Request, admin: AdminUser, file: Annotated[UploadFile, File()]) -> Response:
    data = await file.read()
    filename = file.filename or "labels.csv"
    try:
        table = read_table(data, filename)
    except TabularError as exc:
        return render(request, "feedback/text_model_new.html", {"errors": {"file": exc.message}}, status_code=400)
    upload_id = save_upload(data, filename)
    text_column, label_column = text_models.guess_columns(table.headers)
    form = {"text_column": text_column or "", "label_column": label_column or "", "name": "", "folds": 5}
    context = _columns_context(upload_id, filename, table.headers, table.preview(5), form, {})
    context["rows"] = len(table.rows)
    return render(request, "feedback/text_model_columns.html", context)


@router.post(MODELS + "/evaluate")
def model_evaluate(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    upload_id: FormText = "",
    text_column: FormText = "",
    label_column: FormText = "",
    name: FormText = "",
    folds: Annotated[int, Form(ge=2, le=10)] = 5,
) -> Response:
    try:
        model = text_models.start_candidate(
            session,
            actor_for(admin),
            name=name,
            upload_id=upload_id,
            text_column=text_column,
            label_column=label_column,
            folds=folds,
            enqueue=_jobs().evaluate_text_model,
        )
    except ValidationFailed as exc:
        data, filename = load_upload(upload_id)
        table = read_table(data, filename)
        form = {"text_column": text_column, "label_column": label_column, "name": name, "folds": folds}
        context = _columns_context(upload_id, filename, table.headers, table.preview(5), form, errors_of(exc))
        context["rows"] = len(table.rows)
        context["problems"] = [message for _, message in exc.problems]
        return render(request, "feedback/text_model_columns.html", context, status_code=422)
    return RedirectResponse(f"{MODELS}/{model.id}", status_code=303)


def _model_context(session: SessionDep, model_id: int) -> dict[str, Any]:
    model = text_models.get_model(session, model_id)
    current = types.current_model(session)
    labels = model.labels
    confusion = model.metrics.get("confusion") or []
    return {
        "model": model,
        "current": current,
        "labels": labels,
        "confusion": confusion if len(confusion) == len(labels) else [],
        "type_labels": types.type_labels(session),
        "history": audit.history(session, text_models.ENTITY, model_id, limit=10),
    }


@router.get(MODELS + "/{model_id:int}", response_class=HTMLResponse, dependencies=[ADMIN])
def model_page(request: Request, session: SessionDep, model_id: int) -> Response:
    return render(
        request,
        "feedback/text_model.html",
        _model_context(session, model_id),
        partial="feedback/_text_model_status.html",
    )


@router.post(MODELS + "/{model_id:int}/activate")
def model_activate(request: Request, session: SessionDep, admin: AdminUser, model_id: int) -> Response:
    try:
        model = types.activate_model(session, actor_for(admin), model_id)
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message, "error")
        return RedirectResponse(f"{MODELS}/{model_id}", status_code=303)
    return _back(
        request,
        f"{model.name} is in use; its labels are the feedback types. Every item is re-analysed in the background.",
    )


@router.post(MODELS + "/{model_id:int}/delete")
def model_delete(request: Request, session: SessionDep, admin: AdminUser, model_id: int) -> Response:
    model = text_models.get_model(session, model_id)
    try:
        text_models.discard_model(session, actor_for(admin), model_id)
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message, "error")
        return RedirectResponse(f"{MODELS}/{model_id}", status_code=303)
    return _back(request, f"{model.name} discarded.")


# --- an item's type in the inbox -----------------------------------------------------------------------


def _type_context(session: SessionDep, item_id: int, errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "item_type": types.item_type(session, item_id),
        "type_choices": types.list_types(session, include_retired=False),
        "type_errors": errors or {},
        "item_id": item_id,
    }


@router.get("/feedback/items/{item_id:int}/type", response_class=HTMLResponse)
def item_type_fragment(request: Request, session: SessionDep, user: ViewerUser, item_id: int) -> Response:
    """The detail pane's type block: the stored type with its confidence, and (members) a select to correct it."""
    return render(request, "feedback/_inbox_type.html", _type_context(session, item_id))


@router.post("/feedback/items/{item_id:int}/type")
async def item_type_correct(request: Request, session: SessionDep, user: MemberUser, item_id: int) -> Response:
    form = await request.form()
    kind = form.get("kind")
    try:
        data = TypeCorrection.model_validate({"kind": kind if isinstance(kind, str) else ""})
        corrected = types.correct_type(session, actor_for(user), item_id, data.kind)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        # The pane shows errors about the whole item at its top, where the type block (loaded later) is not.
        message = "; ".join(errors_of(exc).values())
        return _refused(request, session, item_id, ValidationFailed(None, f"Type not changed: {message}"))
    if not is_htmx(request):
        flash(request, f"Type set to {corrected.kind_label}.")
        return RedirectResponse(f"/feedback/items/{item_id}", status_code=303)
    return _after_write(request, session, item_id, f"Type set to {corrected.kind_label}.")


# --- JSON API ----------------------------------------------------------------------------------------------

api = registry.router(APIRouter(prefix="/api/v1/feedback", tags=["feedback types"]))


class TypeList(BaseModel):
    items: list[FeedbackTypeOut]
    total: int


class TextModelApiOut(BaseModel):
    id: int
    name: str
    status: str
    """``ready``, ``evaluating`` (``progress`` folds done of ``folds``) or ``failed`` (see ``error``)."""
    source: str
    """``builtin``, ``retrained`` or ``custom`` (trained on your own labels)."""
    active: bool
    labels: list[str]
    keys: dict[str, str]
    """The feedback type key each label becomes."""
    recipe: str
    training_rows: int
    macro_f1: float | None
    per_class: dict[str, dict[str, float | int]]
    folds: int | None
    progress: int | None
    error: str | None
    decision: str | None
    """For a retrained model: why it was or was not put in use."""
    created_at: str


class TextModelList(BaseModel):
    items: list[TextModelApiOut]
    total: int


class Queued(BaseModel):
    status: str
    message: str


def model_api_out(model: TextModelOut) -> TextModelApiOut:
    m = model.metrics
    return TextModelApiOut(
        id=model.id,
        name=model.name,
        status=model.status,
        source=model.source,
        active=model.active,
        labels=model.labels,
        keys=model.keys,
        recipe=model.recipe,
        training_rows=model.training_rows,
        macro_f1=model.macro_f1,
        per_class=dict(m.get("per_class") or {}),
        folds=m.get("folds"),
        progress=m.get("progress"),
        error=m.get("error"),
        decision=m.get("decision"),
        created_at=model.created_at.isoformat(),
    )


@api.get("/types", response_model=TypeList, summary="Feedback types in their order (retired ones last, inactive)")
def api_types(session: SessionDep, user: ViewerUser) -> TypeList:
    found = types.list_types(session)
    return TypeList(items=found, total=len(found))


@api.patch(
    "/items/{item_id:int}/type",
    response_model=InsightTypeOut,
    summary="Correct an item's type (members); it becomes a training example and the analysis keeps it",
)
def api_correct_type(session: SessionDep, user: MemberUser, item_id: int, data: TypeCorrection) -> InsightTypeOut:
    return types.correct_type(session, actor_for(user), item_id, data.kind)


@api.get("/text-models", response_model=TextModelList, summary="Feedback type models, newest first, with their scores")
def api_models(session: SessionDep, user: ViewerUser) -> TextModelList:
    found = [model_api_out(m) for m in types.model_history(session)]
    return TextModelList(items=found, total=len(found))


@api.get(
    "/text-models/{model_id:int}", response_model=TextModelApiOut, summary="One model (poll it while it is evaluated)"
)
def api_model(session: SessionDep, user: ViewerUser, model_id: int) -> TextModelApiOut:
    return model_api_out(text_models.get_model(session, model_id))


@api.post(
    "/text-models/evaluate",
    response_model=TextModelApiOut,
    status_code=202,
    summary="Train a classifier on your own labelled CSV/XLSX (admins)",
    description=(
        "Multipart form: `file`, `text_column`, `label_column`, optional `name` and `folds` (2–10, default 5). The "
        "file is checked at once (422 naming the rows and columns at fault); the stratified cross-validation and "
        "the training run in the background: poll `GET /api/v1/feedback/text-models/{id}` until `status` is "
        "`ready`, then activate it to make its labels the feedback types."
    ),
)
async def api_evaluate(
    session: SessionDep,
    admin: AdminUser,
    file: Annotated[UploadFile, File()],
    text_column: Annotated[str, Form(max_length=200)],
    label_column: Annotated[str, Form(max_length=200)],
    name: Annotated[str, Form(max_length=120)] = "",
    folds: Annotated[int, Form(ge=2, le=10)] = 5,
) -> TextModelApiOut:
    data = await file.read()
    filename = file.filename or "labels.csv"
    try:
        read_table(data, filename)
    except TabularError as exc:
        raise ValidationFailed("file", exc.message) from exc
    upload_id = save_upload(data, filename)
    model = text_models.start_candidate(
        session,
        actor_for(admin),
        name=name,
        upload_id=upload_id,
        text_column=text_column,
        label_column=label_column,
        folds=folds,
        enqueue=_jobs().evaluate_text_model,
    )
    return model_api_out(text_models.get_model(session, model.id))


@api.post(
    "/text-models/{model_id:int}/activate",
    response_model=TextModelApiOut,
    summary="Put a ready model in use (admins): its labels become the feedback types",
)
def api_activate(session: SessionDep, admin: AdminUser, model_id: int) -> TextModelApiOut:
    return model_api_out(types.activate_model(session, actor_for(admin), model_id))


@api.delete("/text-models/{model_id:int}", status_code=204, summary="Discard a model that is not in use (admins)")
def api_delete(session: SessionDep, admin: AdminUser, model_id: int) -> Response:
    text_models.discard_model(session, actor_for(admin), model_id)
    return Response(status_code=204)


@api.post(
    "/text-models/retrain",
    response_model=Queued,
    status_code=202,
    summary="Retrain the type model on the built-in data and every correction (admins)",
)
def api_retrain(session: SessionDep, admin: AdminUser) -> Queued:
    model = types.current_model(session)
    if model is not None and model.source == "custom":
        raise Conflict(None, "The model in use was trained on your own labels: train it again from an updated file.")
    _jobs().retrain_type_model_now()
    return Queued(status="queued", message="Retraining; the new model appears in GET /api/v1/feedback/text-models.")
