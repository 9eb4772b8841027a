"""The survey pages: list, create, builder (questions, languages, branching), results, responses, themes, waves,
the public link, the in-app snippet; what viewers may not do."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.feedback.service import widget
from prodops.domains.feedback.service.widget import WidgetSiteIn
from prodops.domains.surveys import service
from prodops.domains.surveys.models import Response
from prodops.domains.surveys.schemas import ResponseIn
from tests.conftest import Client, count_statements
from tests.surveys.conftest import ACTOR, make_person, make_survey


def test_list_create_and_builder(member_client: Client, session: Session) -> None:
    empty = member_client.get("/surveys")
    assert empty.status_code == 200 and "No surveys yet" in empty.text
    bad = member_client.form("/surveys", {"name": "", "kind": "nps", "languages": "en, xx-!!"})
    assert bad.status_code == 422 and "field-error" in bad.text and 'value="en, xx-!!"' in bad.text
    created = member_client.form(
        "/surveys", {"name": "Onboarding CES", "kind": "ces", "languages": "en, de"}, follow_redirects=False
    )
    assert created.status_code == 303
    sid = int(created.headers["location"].split("/")[2])
    builder = member_client.get(f"/surveys/{sid}/builder")
    assert "How easy was it to get what you needed?" in builder.text and "if 1–3 → “why_low”" in builder.text
    assert "Wie einfach war es" in builder.text

    # Add a choice question branching to the end, then check a broken branch is refused with nothing changed.
    ok = member_client.form(
        f"/surveys/{sid}/questions",
        {
            "key": "channel",
            "qtype": "single",
            "text_en": "Where did you get help?",
            "text_de": "Wo?",
            "options": "docs | Documentation\nsupport | Support",
            "branches": "choice: docs -> end",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text
    broken = member_client.form(
        f"/surveys/{sid}/questions",
        {"key": "extra", "qtype": "text", "text_en": "Anything else?", "branches": "0-6 -> nowhere"},
    )
    assert broken.status_code == 422 and "field-error" in broken.text and "Anything else?" in broken.text
    syntax = member_client.form(
        f"/surveys/{sid}/questions", {"key": "extra", "qtype": "text", "text_en": "x", "branches": "sometimes end"}
    )
    assert syntax.status_code == 422 and "line 1" in syntax.text
    survey = service.get_survey(session, sid)
    assert [q.key for q in survey.questions] == ["score", "why_low", "why", "channel"]
    assert survey.questions[3].branches == [{"choices": ["docs"], "goto": "end"}]
    # Move it up, rename a branch target by renaming the question.
    member_client.form(f"/surveys/{sid}/questions/channel/move", {"direction": "up"})
    member_client.form(
        f"/surveys/{sid}/questions",
        {"original_key": "why_low", "key": "why_hard", "qtype": "text", "text_en": "What made it hard?"},
    )
    session.rollback()
    survey = service.get_survey(session, sid)
    assert [q.key for q in survey.questions] == ["score", "why_hard", "channel", "why"]
    assert survey.questions[0].branches[0]["goto"] == "why_hard"
    settings = member_client.form(
        f"/surveys/{sid}/settings",
        {"name": "Onboarding CES", "languages": "en, de", "status": "active", "throttle_days": "30"},
    )
    assert settings.status_code == 200
    assert member_client.get(f"/surveys/{sid}/preview?lang=de").status_code == 200


def test_results_page_with_chart_tables_and_definition(viewer_client: Client, session: Session) -> None:
    survey = make_survey(session)
    ann, _ = make_person(session, "ann@acme.example", arr=80_000)
    bob, _ = make_person(session, "bob@beta.example", arr=2_000)
    now = dt.datetime.now(dt.UTC)
    for n, (person, score) in enumerate([(ann, 10), (ann, 9), (bob, 2), (bob, 7), (None, 10)]):
        service.record_response(
            session,
            ACTOR,
            survey.id,
            ResponseIn(answers={"score": score}, person_id=person, responded_at=now - dt.timedelta(days=20 * n)),
        )
    with count_statements() as statements:
        page = viewer_client.get(f"/surveys/{survey.id}")
    assert page.status_code == 200
    assert len(statements) < 60
    assert "NPS 40, " in page.text and "±" in page.text  # 3 promoters, 1 detractor of 5
    assert "data-vega-src" in page.text and "By segment" in page.text and "Enterprise" in page.text
    assert "adjusted-Wald" in page.text
    spec = viewer_client.get(f"/surveys/{survey.id}/results/chart.json?interval=month").json()
    assert sum(v["n"] for v in spec["data"]["values"]) == 5
    filtered = viewer_client.get(f"/surveys/{survey.id}?segment=Enterprise")
    assert "Segment: Enterprise" in filtered.text and "NPS 100" in filtered.text
    responses = viewer_client.get(f"/surveys/{survey.id}/responses?group=detractor")
    assert (
        responses.status_code == 200
        and "bob@beta.example" in responses.text
        and "ann@acme.example" not in responses.text
    )
    assert viewer_client.get(f"/surveys/{survey.id}/themes").status_code == 200
    assert viewer_client.get(f"/surveys/{survey.id}/waves").status_code == 200
    # Viewers read; they do not build or send.
    assert viewer_client.form("/surveys", {"name": "x"}).status_code == 403
    assert viewer_client.form(f"/surveys/{survey.id}/waves", {"name": "x", "emails": "a@x.example"}).status_code == 403


def test_public_link_keeps_partial_answers_and_languages(client: Client, session: Session) -> None:
    survey = make_survey(session, languages=["en", "de"])
    url = f"/survey/p/{survey.public_key}"
    page = client.get(f"{url}?lang=de")
    assert page.status_code == 200 and "Wie wahrscheinlich" in page.text and 'lang="de"' in page.text
    assert "Quarterly NPS" not in page.text or "<title>" in page.text  # no internal data beyond the survey's name
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post(url, data={"csrf_token": csrf, "question": "score", "answer": "9", "lang": "de"})
    assert session.scalar(select(Response.completed_at)) is None  # partial, kept
    follow = client.get(url)
    assert "Was ist der wichtigste Grund" in follow.text
    client.post(url, data={"csrf_token": csrf, "question": "why", "answer": "Schnell und einfach.", "lang": "de"})
    session.rollback()
    response = session.scalar(select(Response))
    assert response is not None and response.completed_at is not None and response.language == "de"
    assert response.channel == "link" and response.person_id is None
    assert "Vielen Dank" in client.get(url + "?lang=de").text


def test_in_app_snippet_respects_origins_throttle_and_honeypot(client: Client, session: Session) -> None:
    survey = make_survey(session)
    site = widget.create_site(session, ACTOR, WidgetSiteIn(name="App", allowed_origins=["https://app.example.com"]))
    url = f"/api/v1/surveys/in-app/{site.site_key}/{survey.id}"
    origin = {"Origin": "https://app.example.com"}
    assert client.get(f"{url}?email=a@x.example", headers={"Origin": "https://evil.example"}).status_code == 403
    ask = client.get(f"{url}?email=ann@acme.example", headers=origin)
    assert ask.status_code == 200 and ask.json()["ask"] is True
    assert ask.headers["access-control-allow-origin"] == "https://app.example.com"
    assert ask.json()["question"].startswith("How likely")
    bot = client.post(url, json={"email": "bot@x.example", "score": 10, "website": "spam"}, headers=origin)
    assert bot.status_code == 202
    assert session.scalar(select(func.count()).select_from(Response)) == 0
    bad = client.post(url, json={"email": "ann@acme.example", "score": 11}, headers=origin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "score"]
    sent = client.post(
        url, json={"email": "ann@acme.example", "score": 5, "comment": "Crashes on save"}, headers=origin
    )
    assert sent.status_code == 202
    session.rollback()
    response = session.scalar(select(Response))
    assert response is not None and response.channel == "in_app" and response.score == 5
    # Asked just now: the throttle says not again.
    assert client.get(f"{url}?email=ann@acme.example", headers=origin).json()["ask"] is False
    script = client.get("/surveys/snippet.js")
    assert script.status_code == 200 and "attachShadow" in script.text
