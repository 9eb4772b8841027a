"""Inbound e-mail: a raw RFC 822 message posted to /api/v1/feedback/email becomes one feedback item.

The messages below are written as mail clients send them (Gmail's multipart/alternative with quoted-printable parts,
Outlook's HTML-only replies, RFC 2047 encoded subjects, attachments), and go over HTTP with real API tokens.
"""

from __future__ import annotations

import base64
import datetime as dt
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.feedback.service import channels
from prodops.platform.audit import AuditRecord
from tests.conftest import Client, make_token, make_user
from tests.customers.conftest import make_account, make_person

URL = "/api/v1/feedback/email"

GMAIL_REPLY = b"""MIME-Version: 1.0
Date: Tue, 7 Jan 2025 09:14:03 +0100
References: <support-4411@helpdesk.example.com>
In-Reply-To: <support-4411@helpdesk.example.com>
Message-ID: <CAKx7Zq2b1mR9fQ+kz=LpX@mail.gmail.com>
Subject: Re: Your export question
From: Ana Lopez <Ana.Lopez@Acme.com>
To: feedback@prodops.example.com
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f60718"

--000000000000a1b2c3d4e5f60718
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Thanks! The CSV export works now, but the PDF export still drops the charts =
on every dashboard with more than 10 widgets.

On Mon, Jan 6, 2025 at 5:02=E2=80=AFPM Support Team <support@helpdesk.example.com>
wrote:

> Hi Ana, could you try the export again?
>
> Best, the support team

--=20
Ana Lopez | Head of Analytics | Acme

--000000000000a1b2c3d4e5f60718
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Thanks! The CSV export works now, but the PDF export still d=
rops the charts on every dashboard with more than 10 widgets.</div><br><div c=
lass=3D"gmail_quote"><div dir=3D"ltr" class=3D"gmail_attr">On Mon, Jan 6, 202=
5 at 5:02=E2=80=AFPM Support Team &lt;<a href=3D"mailto:support@helpdesk.exam=
ple.com">support@helpdesk.example.com</a>&gt; wrote:<br></div><blockquote cla=
ss=3D"gmail_quote" style=3D"margin:0px 0px 0px 0.8ex">Hi Ana, could you try t=
he export again?<br><br>Best, the support team</blockquote></div>

--000000000000a1b2c3d4e5f60718--
"""

OUTLOOK_HTML_ONLY = b"""From: "Bob Stone" <bob.stone@globex.example.com>
To: "Feedback" <feedback@prodops.example.com>
Subject: RE: Roadmap call
Date: Wed, 8 Jan 2025 16:45:10 +0000
Message-ID: <DB9PR04MB8123A1B2C3D4E5F6@DB9PR04MB8123.eurprd04.prod.outlook.com>
Content-Type: text/html; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

<html><head><style type=3D"text/css">p.MsoNormal {margin:0cm; font-family:Calibri}</style>
<script>alert('x')</script></head><body lang=3D"EN-GB">
<p class=3DMsoNormal>Hi team,</p>
<p class=3DMsoNormal>Two things we need before renewal:</p>
<ul><li>Single sign-on with Okta &amp; Azure AD</li><li>Audit log export (we&#8217;re regulated)</li></ul>
<p class=3DMsoNormal>Gr=FC=DFe, Bob</p>
<div style=3D"border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">
<p class=3DMsoNormal><b>From:</b> Product Team &lt;product@prodops.example.com&gt;<br>
<b>Sent:</b> Tuesday, January 7, 2025 10:00 AM<br><b>To:</b> Bob Stone<br><b>Subject:</b> Roadmap call</p></div>
<p class=3DMsoNormal>Thanks for joining the call yesterday.</p>
</body></html>
"""


def _token(role: str = "member", scope: str = "write") -> tuple[str, str]:
    user = make_user(role)
    return make_token(user, scope=scope), user.email


def post(client: Client, token: str, raw: bytes, content_type: str = "message/rfc822"):  # type: ignore[no-untyped-def]
    return client.post(URL, content=raw, headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})


def message(
    *,
    sender: str | None = "Chris Doe <chris@initech.example.com>",
    subject: str = "Feature idea",
    body: str = "Please add a dark mode to the dashboard.",
    message_id: str | None = "<idea-1@initech.example.com>",
) -> EmailMessage:
    msg = EmailMessage()
    if sender:
        msg["From"] = sender
    msg["To"] = "feedback@prodops.example.com"
    msg["Subject"] = subject
    msg["Date"] = "Thu, 09 Jan 2025 12:00:00 +0000"
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg


def count(session: Session) -> int:
    session.rollback()  # end the read snapshot opened before the request wrote
    return int(session.scalar(select(func.count()).select_from(FeedbackItem)) or 0)


# --- parsing real client messages --------------------------------------------------------------------


def test_a_gmail_reply_becomes_one_item_matched_to_the_existing_person(client: Client, session: Session) -> None:
    acme = make_account(session, name="Acme", domain="acme.com")
    ana = make_person(session, email="ana.lopez@acme.com", name="Ana López")
    token, member_email = _token()
    response = post(client, token, GMAIL_REPLY)
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["text"] == (
        "Thanks! The CSV export works now, but the PDF export still drops the charts on every dashboard with more "
        "than 10 widgets."
    )
    assert item["title"] == "Re: Your export question"
    assert item["source"] == "email"
    assert item["external_id"] == "CAKx7Zq2b1mR9fQ+kz=LpX@mail.gmail.com"
    assert item["person_id"] == ana.id and item["account_id"] == acme.id
    assert dt.datetime.fromisoformat(item["received_at"]) == dt.datetime(2025, 1, 7, 8, 14, 3, tzinfo=dt.UTC)
    assert item["meta"]["in_reply_to"] == "support-4411@helpdesk.example.com"
    assert item["meta"]["to"] == ["feedback@prodops.example.com"]
    assert "attachments" not in item["meta"]
    session.rollback()
    audit = session.scalars(
        select(AuditRecord).where(AuditRecord.entity_type == "feedback", AuditRecord.action == "create")
    ).one()
    assert audit.actor_label == member_email  # the token's user is the actor


def test_an_html_only_outlook_reply_is_read_as_text_without_the_quote(client: Client) -> None:
    token, _ = _token()
    response = post(client, token, OUTLOOK_HTML_ONLY)
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["text"] == (
        "Hi team,\n\nTwo things we need before renewal:\n\n"
        "- Single sign-on with Okta & Azure AD\n- Audit log export (we’re regulated)\n\nGrüße, Bob"
    )
    assert "MsoNormal" not in item["text"] and "alert" not in item["text"] and "Roadmap call" not in item["text"]
    assert item["person_email"] == "bob.stone@globex.example.com" and item["person_name"] == "Bob Stone"


def test_a_non_ascii_subject_and_body_are_decoded(client: Client) -> None:
    body = base64.b64encode("Los gráficos salen vacíos en el PDF — ¿podéis mirarlo?\n".encode()).decode()
    raw = (
        "From: =?UTF-8?Q?Jos=C3=A9_N=C3=BA=C3=B1ez?= <jose@initech.example.com>\r\n"
        "To: feedback@prodops.example.com\r\n"
        "Subject: =?UTF-8?B?" + base64.b64encode("Exportación a PDF: gráficos vacíos ✓".encode()).decode() + "?=\r\n"
        "Message-ID: <utf8-1@initech.example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + body
    ).encode()
    response = post(client, _token()[0], raw, "text/plain; charset=utf-8")
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["title"] == "Exportación a PDF: gráficos vacíos ✓"
    assert item["text"] == "Los gráficos salen vacíos en el PDF — ¿podéis mirarlo?"
    assert item["person_name"] == "José Núñez"


def test_quoted_replies_and_signatures_are_stripped() -> None:
    text = (
        "The new filters are great.\n> Did the filters help?\nOne wish: save them per team.\n\n-- \nChris Doe\nInitech"
    )
    assert channels.strip_reply(text) == "The new filters are great.\nOne wish: save them per team."
    german = "Bitte CSV-Export mit Semikolon.\n\nAm 06.01.2025 um 17:02 schrieb Support <s@example.com>:\n> Hallo"
    assert channels.strip_reply(german) == "Bitte CSV-Export mit Semikolon."
    original = "Yes please.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\nold text"
    assert channels.strip_reply(original) == "Yes please."
    footer = "Love the new editor.\n\nSent from my iPhone"
    assert channels.strip_reply(footer) == "Love the new editor."
    forwarded = (
        "FYI, from our biggest customer:\n\n---------- Forwarded message ---------\n"
        "From: Dana <dana@example.com>\nDate: Mon, 6 Jan 2025\n\nWe need an SLA report."
    )
    assert "We need an SLA report." in channels.strip_reply(forwarded)  # a forward's content is the feedback


def test_html_to_text_keeps_structure_and_drops_markup() -> None:
    html = (
        "<html><head><title>x</title><style>b{}</style></head><body><h1>Title</h1><p>One&nbsp;&amp; two<br>three"
        "</p><table><tr><td>a</td><td>b</td></tr></table><pre>  keep\n    indent</pre><script>evil()</script>"
        "<blockquote>quoted</blockquote></body></html>"
    )
    assert channels.html_to_text(html) == "Title\n\nOne & two\nthree\n\na b\n\n  keep\n    indent\n\n> quoted"


def test_attachments_are_listed_with_names_and_sizes(client: Client) -> None:
    msg = message(body="Screenshot and log attached: the import fails at row 12.")
    msg.add_attachment(b"%PDF-1.7 " + b"x" * 1991, maintype="application", subtype="pdf", filename="report.pdf")
    msg.add_attachment(b"\x89PNG" + b"\x00" * 508, maintype="image", subtype="png", filename="screen shot.png")
    response = post(client, _token()[0], msg.as_bytes())
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["text"] == "Screenshot and log attached: the import fails at row 12."
    assert item["meta"]["attachments"] == [
        {"name": "report.pdf", "size": 2000, "content_type": "application/pdf"},
        {"name": "screen shot.png", "size": 512, "content_type": "image/png"},
    ]


def test_a_subject_only_message_is_still_feedback(client: Client) -> None:
    msg = message(subject="Please support SAML", body="\n\n")
    response = post(client, _token()[0], msg.as_bytes())
    assert response.status_code == 201, response.text
    assert response.json()["text"] == "Please support SAML"


def test_the_sender_falls_back_to_reply_to(client: Client) -> None:
    msg = message(sender=None)
    msg["From"] = "Web form <no-reply@forms>"  # not a deliverable address
    msg["Reply-To"] = "Dana Scully <Dana@Initech.example.com>"
    response = post(client, _token()[0], msg.as_bytes())
    assert response.status_code == 201, response.text
    assert response.json()["person_email"] == "dana@initech.example.com"


# --- idempotency and people --------------------------------------------------------------------------


def test_posting_the_same_message_again_updates_and_never_duplicates(client: Client, session: Session) -> None:
    token, _ = _token()
    first = post(client, token, message().as_bytes())
    assert first.status_code == 201
    again = post(client, token, message(body="Please add a dark mode to the dashboard and reports.").as_bytes())
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["text"] == "Please add a dark mode to the dashboard and reports."
    assert count(session) == 1
    no_id = message(message_id=None).as_bytes()
    assert post(client, token, no_id).status_code == 201
    assert post(client, token, no_id).status_code == 200  # same bytes, same item even without a Message-ID
    assert count(session) == 2


def test_a_new_sender_is_created_in_the_account_of_their_domain(client: Client, session: Session) -> None:
    initech = make_account(session, name="Initech", domain="initech.example.com")
    response = post(client, _token()[0], message(sender="Chris Doe <CHRIS@INITECH.example.com>").as_bytes())
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["person_email"] == "chris@initech.example.com" and item["person_name"] == "Chris Doe"
    assert item["account_id"] == initech.id


def test_the_raw_message_can_be_uploaded_as_a_form_field(client: Client) -> None:
    token, _ = _token()
    response = client.post(
        URL,
        files={"message": ("idea.eml", message().as_bytes(), "message/rfc822")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["external_id"] == "idea-1@initech.example.com"
    missing = client.post(
        URL, files={"other": ("idea.eml", b"x", "message/rfc822")}, headers={"Authorization": f"Bearer {token}"}
    )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "message"]


# --- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (message(sender=None).as_bytes(), "no valid sender"),
        (b"this is not an e-mail at all", "no valid sender"),
        (message(subject="", body="").as_bytes(), "no text"),
    ],
)
def test_bad_messages_get_422_with_a_field_message(client: Client, session: Session, raw: bytes, words: str) -> None:
    response = post(client, _token()[0], raw)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["body", "message"] and words in detail[0]["msg"]
    assert count(session) == 0


def test_a_message_over_the_size_limit_gets_413(client: Client, session: Session) -> None:
    raw = message(body="x" * (channels.MAX_EMAIL_BYTES + 10)).as_bytes()
    response = post(client, _token()[0], raw)
    assert response.status_code == 413
    assert "larger than 5 MB" in response.json()["detail"]
    assert count(session) == 0


def test_other_content_types_get_415(client: Client) -> None:
    response = post(client, _token()[0], b'{"text": "hi"}', "application/json")
    assert response.status_code == 415
    assert "message/rfc822" in response.json()["detail"]


def test_only_members_with_write_tokens_may_post(client: Client, session: Session) -> None:
    raw = message().as_bytes()
    anonymous = client.post(URL, content=raw, headers={"Content-Type": "message/rfc822"})
    assert anonymous.status_code == 401
    viewer_token, _ = _token("viewer", scope="read")
    assert post(client, viewer_token, raw).status_code == 403
    read_token, _ = _token("member", scope="read")
    refused = post(client, read_token, raw)
    assert refused.status_code == 403 and "read" in refused.json()["detail"]
    assert count(session) == 0


def test_a_signed_in_viewer_is_refused_for_their_role(viewer_client: Client, session: Session) -> None:
    response = viewer_client.post(
        URL,
        content=message().as_bytes(),
        headers={"Content-Type": "message/rfc822", "X-CSRF-Token": viewer_client.csrf},
    )
    assert response.status_code == 403 and "member" in response.json()["detail"]
    assert count(session) == 0
