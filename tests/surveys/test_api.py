"""The JSON API: who may do what, validation with field-level errors and nothing written, results, import."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.surveys.commands import app as surveys_cli
from prodops.domains.surveys.models import Response
from tests.conftest import Client, make_token, make_user

API = "/api/v1/surveys"
cli = typer.Typer()
cli.add_typer(surveys_cli, name="surveys")  # as `prodops` mounts it


def _auth(role: str = "member", scope: str = "write") -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(make_user(role), scope)}"}


def test_viewers_read_members_write(client: Client) -> None:
    member, reader = _auth(), _auth("viewer", "read")
    created = client.post(API, json={"name": "NPS", "kind": "nps", "languages": ["en", "de"]}, headers=member)
    assert created.status_code == 201, created.text
    survey = created.json()
    assert [q["key"] for q in survey["questions"]] == ["score", "why_low", "why"]
    assert survey["questions"][0]["text"]["de"].startswith("Wie wahrscheinlich")
    assert client.get(f"{API}/{survey['id']}", headers=reader).status_code == 200
    assert client.post(API, json={"name": "x"}, headers=reader).status_code == 403
    assert client.get(API).status_code == 401
    assert client.delete(f"{API}/{survey['id']}", headers=member).status_code == 403
    assert client.delete(f"{API}/{survey['id']}", headers=_auth("admin")).status_code == 204


def test_record_responses_with_field_level_errors(client: Client, session: Session) -> None:
    member = _auth()
    survey = client.post(API, json={"name": "NPS", "status": "active"}, headers=member).json()
    url = f"{API}/{survey['id']}/responses"
    bad = client.post(url, json={"answers": {"score": 12, "nope": "x"}}, headers=member)
    assert bad.status_code == 422
    locs = {tuple(d["loc"]) for d in bad.json()["detail"]}
    assert ("body", "answers.score") in locs and ("body", "answers.nope") in locs
    # A promoter is not asked the detractors' question: answering it is refused.
    branch = client.post(url, json={"answers": {"score": 10, "why_low": "hmm"}}, headers=member)
    assert branch.status_code == 422 and "not asked" in branch.text
    missing = client.post(url, json={"answers": {"why": "no score"}}, headers=member)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "answers.score"]
    assert session.scalar(select(func.count()).select_from(Response)) == 0

    ok = client.post(
        url,
        json={
            "answers": {"score": 4, "why_low": "Slow."},
            "person_email": "Ann@Acme.example",
            "external_id": "zd-1",
            "responded_at": "2026-01-15T10:00:00Z",
            "channel": "api",
        },
        headers=member,
    )
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert body["score"] == 4 and body["group"] == "detractor" and body["person_email"] == "ann@acme.example"
    assert body["responded_at"].startswith("2026-01-15") and not body["partial"]
    assert body["answers"][1]["feedback_item_id"] is not None
    again = client.post(url, json={"answers": {"score": 4}, "external_id": "zd-1"}, headers=member)
    assert again.status_code == 409
    partial = client.post(url, json={"answers": {"score": 8}, "complete": False}, headers=member)
    assert partial.status_code == 201 and partial.json()["partial"]
    listed = client.get(f"{url}?partial=true", headers=member).json()
    assert listed["total"] == 1


def test_questions_are_validated_as_a_set(client: Client) -> None:
    member = _auth()
    survey = client.post(
        API,
        json={
            "name": "Custom",
            "kind": "custom",
            "questions": [
                {
                    "key": "role",
                    "qtype": "single",
                    "text": "Your role?",
                    "options": [{"value": "pm"}, {"value": "eng"}],
                    "branches": [{"choices": ["pm"], "goto": "pm_pain"}],
                },
                {
                    "key": "eng_pain",
                    "qtype": "text",
                    "text": "What slows engineering down?",
                    "branches": [{"goto": "end"}],
                },
                {"key": "pm_pain", "qtype": "text", "text": "What slows product down?"},
            ],
        },
        headers=member,
    )
    assert survey.status_code == 201, survey.text
    sid = survey.json()["id"]
    broken = [
        {
            "key": "role",
            "qtype": "single",
            "text": "Role?",
            "options": [{"value": "pm"}, {"value": "eng"}],
            "branches": [{"choices": ["ceo"], "goto": "missing"}],
        },
        {"key": "role", "qtype": "text", "text": "Again?"},
    ]
    bad = client.put(f"{API}/{sid}/questions", json=broken, headers=member)
    assert bad.status_code == 422
    locs = {d["loc"][1] for d in bad.json()["detail"]}
    assert {"questions.0.branches.0.goto", "questions.0.branches.0.choices", "questions.1.key"} <= locs
    backwards = [
        {
            "key": "a",
            "qtype": "rating",
            "text": "Rate",
            "scale_max": 5,
            "branches": [{"min": 1, "max": 2, "goto": "b"}],
        },
        {"key": "b", "qtype": "text", "text": "Why?", "branches": [{"goto": "a"}]},
    ]
    assert "only go forward" in client.put(f"{API}/{sid}/questions", json=backwards, headers=member).text
    # Unchanged after the refusals.
    assert [q["key"] for q in client.get(f"{API}/{sid}", headers=member).json()["questions"]] == [
        "role",
        "eng_pain",
        "pm_pain",
    ]


def test_results_api(client: Client) -> None:
    member = _auth()
    survey = client.post(API, json={"name": "NPS", "status": "active"}, headers=member).json()
    empty = client.get(f"{API}/{survey['id']}/results", headers=member).json()
    assert empty["headline"] == "NPS: no responses yet" and empty["overall"]["value"] is None
    now = dt.datetime.now(dt.UTC)
    for n, score in enumerate([10, 10, 9, 8, 7, 3]):
        when = (now - dt.timedelta(days=n)).isoformat()
        client.post(
            f"{API}/{survey['id']}/responses", json={"answers": {"score": score}, "responded_at": when}, headers=member
        )
    res = client.get(f"{API}/{survey['id']}/results?interval=week", headers=member).json()
    assert res["overall"]["value"] == 100 * (3 - 1) / 6
    assert res["overall"]["low"] < res["overall"]["value"] < res["overall"]["high"]
    assert res["headline"].startswith("NPS 33, ") and "±" in res["headline"]
    assert res["change"]["verdict"] == "no responses in one of the periods"
    assert sum(r["n"] for r in res["series"]) == 6
    assert res["by"]["account"][0]["label"] == "(none)"
    assert client.get(f"{API}/{survey['id']}/results?since=yesterday", headers=member).status_code == 422


CSV = """email,score,comment,date,survey
ann@acme.example,9,Love the dashboards,2025-03-01,Legacy NPS
bob@beta.example,3,Too expensive,2025-03-02,Legacy NPS
cat@acme.example,7,,2025-04-10,Legacy NPS
"""


def test_import_dry_run_then_all_or_nothing(client: Client, session: Session) -> None:
    member = _auth()
    client.post(API, json={"name": "Legacy NPS", "status": "active"}, headers=member)
    broken = CSV + "dan@acme.example,11,,2025-04-11,Legacy NPS\neve@acme.example,5,,not a date,Nope\n"
    bad = client.post(f"{API}/import", files={"file": ("nps.csv", broken)}, headers=member)
    assert bad.status_code == 422
    errors = bad.json()["errors"]
    assert {(e["row"], e["column"]) for e in errors} >= {(5, "score"), (6, "date")}
    assert session.scalar(select(func.count()).select_from(Response)) == 0
    dry = client.post(f"{API}/import?dry_run=true", files={"file": ("nps.csv", CSV)}, headers=member)
    assert dry.status_code == 200 and dry.json()["created"] == 3 and not dry.json()["committed"]
    assert session.scalar(select(func.count()).select_from(Response)) == 0
    done = client.post(f"{API}/import", files={"file": ("nps.csv", CSV)}, headers=member)
    assert done.status_code == 200 and done.json()["created"] == 3
    session.rollback()
    scores = dict(session.execute(select(Response.external_id, Response.score)).all())
    assert sorted(scores.values()) == [3, 7, 9]
    texts = set(session.scalars(select(FeedbackItem.text).where(FeedbackItem.source == "survey")))
    assert texts == {"Love the dashboards", "Too expensive"}
    # The same file again changes nothing.
    again = client.post(f"{API}/import", files={"file": ("nps.csv", CSV)}, headers=member).json()
    assert again["created"] == 0 and again["unchanged"] == 3


def test_import_cli(tmp_path: Path, client: Client, session: Session) -> None:
    client.post(API, json={"name": "Legacy NPS", "status": "active"}, headers=_auth())
    path = tmp_path / "nps.csv"
    path.write_text(CSV + "x@acme.example,4,,2025-05-01,Unknown survey\n", encoding="utf-8")
    runner = CliRunner()
    bad = runner.invoke(cli, ["surveys", "import", str(path), "--dry-run"])
    assert bad.exit_code == 1 and "Unknown survey" in bad.output
    path.write_text(CSV, encoding="utf-8")
    dry = runner.invoke(cli, ["surveys", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "Nothing was written" in dry.output
    done = runner.invoke(cli, ["surveys", "import", str(path)])
    assert done.exit_code == 0, done.output
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Response)) == 3


def test_import_wizard_in_the_browser_forms(member_client: Client, session: Session) -> None:
    created = member_client.post(
        API, json={"name": "Legacy NPS", "status": "active"}, headers={"X-CSRF-Token": member_client.csrf}
    )
    assert created.status_code == 201
    assert member_client.get("/surveys/import").status_code == 200
    mapping = member_client.post(
        "/surveys/import", files={"file": ("nps.csv", CSV)}, data={"csrf_token": member_client.csrf}
    )
    assert mapping.status_code == 200 and "Comment" in mapping.text
    assert 'value="score" selected' in mapping.text  # guessed from the headers
    upload = re.search(r'name="upload_id" value="([^"]+)"', mapping.text)
    assert upload, mapping.text
    fields = {f"map.{name}": name for name in ("email", "score", "comment", "date", "survey")}
    form = {"upload_id": upload.group(1), **fields}
    dry = member_client.form("/surveys/import/check", form)
    assert dry.status_code == 200 and "Dry run" in dry.text
    assert session.scalar(select(func.count()).select_from(Response)) == 0
    done = member_client.form("/surveys/import/check", {**form, "commit": "1"})
    assert done.status_code == 200 and "Imported 3 rows" in done.text
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Response)) == 3
