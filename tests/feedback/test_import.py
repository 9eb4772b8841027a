"""Feedback file import and export: mapping, dry run, all or nothing, idempotent re-import, the CLI, the API and the
export round trip (export, import again: nothing changes)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn
from prodops.domains.feedback import commands
from prodops.domains.feedback import service as feedback
from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.feedback.queries.items import get_item
from prodops.domains.feedback.schemas import FeedbackIn, FeedbackUpdate, LinkIn
from prodops.domains.feedback.service import imports
from prodops.platform import org
from prodops.platform.org.schemas import ProductIn
from prodops.platform.tabular import ImportReport, read_table, write_csv, write_xlsx
from tests.conftest import Client, make_token, make_user
from tests.feedback.conftest import ACTOR, make_item

API = "/api/v1/feedback"
runner = CliRunner()


def _count(session: Session) -> int:
    session.rollback()  # a fresh snapshot: other sessions may have written
    return session.scalar(select(func.count()).select_from(FeedbackItem)) or 0


def _csv(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def _import(
    session: Session, data: bytes, name: str = "feedback.csv", *, dry_run: bool = False, **kw: Any
) -> ImportReport:
    table = read_table(data, name)
    mapping = {**imports.suggest_mapping(table.headers), **kw.pop("mapping", {})}
    return imports.import_feedback(session, ACTOR, table, mapping, dry_run=dry_run, **kw)


@pytest.fixture
def world(session: Session) -> dict[str, int]:
    """A product and an account with a domain, for the rows to point at."""
    product = org.service.create_product(session, ACTOR, ProductIn(key="mobile", name="Mobile app"))
    account = customers.create_account(session, ACTOR, AccountIn(name="Acme", domain="acme.com"))
    return {"product": product.id, "account": account.id}


SPREADSHEET = [
    ["Ticket ID", "Channel", "Date", "Subject", "Comment", "Customer email", "Product", "Labels", "Priority", "Rating"],
    ["T-1", "Support ticket", "2024-03-05 14:22", "Export", "PDF export loses charts", "ann@acme.com", "Mobile app", "export; pdf", "Critical", "2"],
    ["R-9", "app review", "5 Mar 2024", "", "Love it, want dark mode", "", "mobile", "ui", "nice", "5"],
    ["T-2", "E-mail", "2024-03-06T08:00:00+02:00", "", "SSO please", "bo@newco.io", "", "", "", ""],
]  # fmt: skip


def test_columns_are_recognised_and_values_read_as_people_write_them(session: Session, world: dict[str, int]) -> None:
    data = _csv(SPREADSHEET)
    table = read_table(data, "feedback.csv")
    mapping = imports.suggest_mapping(table.headers)
    assert mapping == {
        "external_id": "Ticket ID",
        "source": "Channel",
        "received_at": "Date",
        "title": "Subject",
        "text": "Comment",
        "person_email": "Customer email",
        "product": "Product",
        "tags": "Labels",
        "importance": "Priority",
        "meta.Rating": "Rating",
    }
    report = _import(session, data)
    assert report.ok and report.committed, report.errors
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    items = {i.external_id: i for i in session.scalars(select(FeedbackItem))}
    t1 = get_item(session, items["T-1"].id)
    assert t1.source == "support_ticket" and t1.title == "Export" and t1.importance == "critical"
    assert t1.received_at == dt.datetime(2024, 3, 5, 14, 22, tzinfo=dt.UTC)
    assert t1.person_email == "ann@acme.com" and t1.account_id == world["account"]  # joined Acme by domain
    assert t1.product_id == world["product"] and t1.tags == ["export", "pdf"] and t1.meta == {"Rating": "2"}
    r9 = items["R-9"]
    assert r9.source == "app_review" and r9.importance == "nice" and r9.product_id == world["product"]
    assert r9.received_at == dt.datetime(2024, 3, 5, tzinfo=dt.UTC) and r9.person_id is None
    t2 = items["T-2"]
    assert t2.source == "email" and t2.received_at == dt.datetime(2024, 3, 6, 6, 0, tzinfo=dt.UTC)
    assert t2.meta == {} and t2.status == "new"


def test_dry_run_lists_every_bad_row_and_column_and_writes_nothing(session: Session, world: dict[str, int]) -> None:
    data = _csv(
        [
            ["external_id", "source", "received_at", "text", "person_email", "product", "account_domain", "importance"],
            ["A-1", "survey", "2024-03-05", "Fine row", "ann@acme.com", "", "", ""],
            ["A-2", "survey", "2024-03-05", "", "", "", "", ""],
            ["A-3", "fax", "05/03/2024", "Bad source and date", "", "", "", ""],
            ["A-4", "survey", "2024-03-05", "Unknown product and account", "not-an-email", "tablet", "nowhere.org", "huge"],
            ["A-1", "Survey", "2024-03-07", "Same external id again", "", "", "", ""],
        ]
    )  # fmt: skip
    report = _import(session, data, dry_run=True)
    found = {(e.row, e.column, e.field) for e in report.errors}
    assert found == {
        (3, "text", "text"),
        (4, "source", "source"),
        (4, "received_at", "received_at"),
        (5, "person_email", "person_email"),
        (5, "importance", "importance"),
        (5, "product", "product"),
        (5, "account_domain", "account_domain"),
        (6, "external_id", "external_id"),
    }
    messages = {(e.row, e.field): e.message for e in report.errors}
    assert "ambiguous" in messages[(4, "received_at")] and "2024-03-05" in messages[(4, "received_at")]
    assert "'fax'" in messages[(4, "source")] and "Support ticket" in messages[(4, "source")]
    assert "'tablet' is not a product key or name (known: mobile (Mobile app))" in messages[(5, "product")]
    assert "already on row 2" in messages[(6, "external_id")]
    assert report.total_rows == 5 and report.valid_rows == 1 and not report.committed
    assert _count(session) == 0
    # The same file committed: still nothing written.
    committed = _import(session, data)
    assert not committed.committed and len(committed.errors) == len(report.errors)
    assert _count(session) == 0


def test_one_bad_row_among_many_writes_nothing(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "CHUNK", 7)  # several chunks: all of them roll back
    rows = [["external_id", "text", "received_at"]]
    rows += [[f"X-{n}", f"Feedback {n}", "2024-01-02"] for n in range(40)]
    rows[33][2] = "31/12/2024"
    report = _import(session, _csv(rows))
    assert [(e.row, e.field) for e in report.errors] == [(34, "received_at")]
    assert "write 2024-12-31" in report.errors[0].message
    assert _count(session) == 0


def test_reimport_changes_nothing_and_keeps_triage(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "CHUNK", 4)
    rows = [["external_id", "source", "text", "tags", "importance", "received_at", "person_email"]]
    rows += [[f"S-{n}", "survey", f"Answer {n}", "a, b", "", "2024-02-01 10:00", f"p{n}@acme.com"] for n in range(10)]
    rows.append(["", "survey", "No external id", "", "", "", ""])
    data = _csv(rows)
    first = _import(session, data)
    assert (first.created, first.updated, first.unchanged) == (11, 0, 0)
    someone = make_user("member")
    target = session.scalar(select(FeedbackItem.id).where(FeedbackItem.external_id == "S-3"))
    assert target is not None
    feedback.update_item(
        session,
        ACTOR,
        target,
        FeedbackUpdate(status="triaged", importance="critical", assignee_id=someone.id, tags=["a", "b", "c"]),
    )
    preview = _import(session, _csv(rows[:-1]), dry_run=True)
    assert (preview.created, preview.updated, preview.unchanged) == (0, 0, 10)
    again = _import(session, _csv(rows[:-1]))
    assert again.committed and (again.created, again.updated, again.unchanged) == (0, 0, 10)
    assert _count(session) == 11
    kept = get_item(session, target)
    assert (kept.status, kept.importance, kept.assignee_id) == ("triaged", "critical", someone.id)
    assert kept.tags == ["a", "b", "c"] and kept.received_at == dt.datetime(2024, 2, 1, 10, tzinfo=dt.UTC)
    # A changed row updates its item and says so, in the dry run and in the commit.
    rows[2][2] = "Answer 1, corrected"
    changed = _csv(rows[:-1])
    assert _import(session, changed, dry_run=True).updated == 1
    done = _import(session, changed)
    assert (done.created, done.updated, done.unchanged) == (0, 1, 9)


def test_xlsx_with_typed_cells_and_a_chosen_mapping(session: Session) -> None:
    data = write_xlsx(
        ["Said", "When", "Score", "Kind"],
        [
            ["Typed cells work", dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC), 4, "Interview"],
            ["=1+1 stays text", dt.date(2024, 5, 2), 3.5, "sales call"],
        ],
    )
    table = read_table(data, "notes.xlsx")
    assert "text" not in imports.suggest_mapping(table.headers)
    report = _import(
        session, data, "notes.xlsx", mapping={"text": "Said", "received_at": "When", "source": "Kind"}, dry_run=True
    )
    assert report.ok and report.created == 2
    report = _import(session, data, "notes.xlsx", mapping={"text": "Said", "received_at": "When", "source": "Kind"})
    assert report.committed
    session.rollback()
    items = sorted(session.scalars(select(FeedbackItem)), key=lambda i: i.received_at)
    assert [i.text for i in items] == ["Typed cells work", "=1+1 stays text"]
    assert [i.source for i in items] == ["interview", "sales_call"]
    assert items[0].received_at == dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)
    assert items[0].meta == {"Score": "4"} and items[1].meta == {"Score": "3.5"}


def test_a_mapping_naming_a_missing_column_is_refused(session: Session) -> None:
    report = _import(session, _csv([["Words"], ["hello"]]), mapping={"text": "Comment"}, dry_run=True)
    assert [(e.row, e.field) for e in report.errors] == [(0, "text")]
    assert "no column 'Comment'" in report.errors[0].message
    unmapped = _import(session, _csv([["Words"], ["hello"]]), dry_run=True)
    assert unmapped.errors[0].row == 0 and "Required column 'Text'" in unmapped.errors[0].message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", dt.datetime(2024, 3, 5, tzinfo=dt.UTC)),
        ("2024-03-05 14:22", dt.datetime(2024, 3, 5, 14, 22, tzinfo=dt.UTC)),
        ("2024-03-05T14:22:05Z", dt.datetime(2024, 3, 5, 14, 22, 5, tzinfo=dt.UTC)),
        ("2024-03-05 14:22 UTC", dt.datetime(2024, 3, 5, 14, 22, tzinfo=dt.UTC)),
        ("2024-03-05T16:22:00+02:00", dt.datetime(2024, 3, 5, 14, 22, tzinfo=dt.UTC)),
        ("2024/3/5", dt.datetime(2024, 3, 5, tzinfo=dt.UTC)),
        ("2024.03.05 08:00", dt.datetime(2024, 3, 5, 8, tzinfo=dt.UTC)),
        ("5 Mar 2024", dt.datetime(2024, 3, 5, tzinfo=dt.UTC)),
        ("March 5, 2024", dt.datetime(2024, 3, 5, tzinfo=dt.UTC)),
        ("Mar 5, 2024 2:22 PM", dt.datetime(2024, 3, 5, 14, 22, tzinfo=dt.UTC)),
        ("2024-03-05 2:22 pm", dt.datetime(2024, 3, 5, 14, 22, tzinfo=dt.UTC)),
    ],
)
def test_received_dates_people_write(text: str, expected: dt.datetime) -> None:
    assert imports.parse_received(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("05/03/2024", "2024-03-05 for day/month/year or 2024-05-03 for month/day/year"),
        ("25/03/2024", "day/month/year, write 2024-03-25"),
        ("03/25/24", "month/day/year, write 2024-03-25"),
        ("05.03.2024 10:00", "ambiguous"),
        ("yesterday", "is not a date"),
    ],
)
def test_ambiguous_or_unreadable_dates_are_refused(text: str, hint: str) -> None:
    with pytest.raises(ValueError) as err:
        imports.parse_received(text)
    assert hint in str(err.value)


# --- the command line -------------------------------------------------------------------------


def _plain(output: str) -> str:
    """CLI output without Rich's box drawing and line wrapping."""
    return " ".join(output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def _cli(*args: str) -> Any:
    return runner.invoke(commands.app, list(args), catch_exceptions=False)


def test_cli_import_prints_each_bad_row_and_exits_non_zero(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_bytes(
        _csv([["Notes from call", "When"], ["Wants SSO", "2024-04-01"], ["", "2024-04-02"], ["Slow", "4/5/2024"]])
    )
    result = _cli("import", str(path), "--map", "Notes from call=text", "--map", "received_at=When", "--dry-run")
    assert result.exit_code == 1, result.output
    assert "row 3, column Notes from call: Text is required" in result.output
    assert "row 4, column When: Received:" in result.output and "ambiguous" in result.output
    assert "Nothing was imported" in result.output
    assert _count(session) == 0
    path.write_bytes(_csv([["Notes from call", "When"], ["Wants SSO", "2024-04-01"], ["Slow", "2024-04-05"]]))
    dry = _cli("import", str(path), "--map", "Notes from call=text", "--map", "received_at=When", "--dry-run")
    assert dry.exit_code == 0 and "Dry run" in dry.output and _count(session) == 0
    done = _cli(
        "import", str(path), "--map", "text=Notes from call", "--map", "When=received_at", "--source", "Sales call"
    )
    assert done.exit_code == 0, done.output
    assert "Imported 2 rows: 2 created" in done.output
    session.rollback()
    assert {i.source for i in session.scalars(select(FeedbackItem))} == {"sales_call"}


def test_cli_import_refuses_bad_options(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(_csv([["text"], ["hello"]]))
    unmapped = runner.invoke(commands.app, ["import", str(path), "--map", "text="])
    assert unmapped.exit_code == 1 and "column Text: Required column 'Text' is missing" in unmapped.output
    unknown = runner.invoke(commands.app, ["import", str(path), "--map", "Words=text"])
    assert unknown.exit_code == 2 and "the file has no column 'Words'" in _plain(unknown.output)
    neither = runner.invoke(commands.app, ["import", str(path), "--map", "a=b"])
    assert neither.exit_code == 2 and "neither 'a' nor 'b' is a field" in _plain(neither.output)
    source = runner.invoke(commands.app, ["import", str(path), "--source", "fax"])
    assert source.exit_code == 2 and "'fax' is not a source" in _plain(source.output)
    missing = runner.invoke(commands.app, ["import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "cannot be read: No such file" in _plain(missing.output)


def test_cli_unmaps_a_column_matched_by_name(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(_csv([["text", "importance"], ["hello", "whatever"]]))
    assert _cli("import", str(path), "--dry-run").exit_code == 1
    result = _cli("import", str(path), "--map", "importance=")
    assert result.exit_code == 0, result.output
    session.rollback()
    assert session.scalar(select(FeedbackItem.importance)) is None


# --- export and the round trip ------------------------------------------------------------------


def _seed_variety(session: Session, world: dict[str, int]) -> list[int]:
    feature = features.create_feature(session, ACTOR, FeatureIn(title="Dark mode"))
    items = [
        make_item(session, text="=SUM(A1:A9) is what I typed", source="survey", external_id="S-1", tags=["formula"]),
        make_item(session, text="-5 stars: crashes on start", title="+1 crash", source="app_review", external_id="R-1"),
        make_item(
            session,
            text="Plain API item without an external id",
            person_email="ann@acme.com",
            product_id=world["product"],
            area="Sync",
            importance="important",
            notes="Called back; see ticket",
            meta={"rating": 4, "nested": {"a": [1, 2]}},
        ),
        make_item(session, text="Account given explicitly", account_id=world["account"], source="interview"),
        make_item(session, text='Line one\nLine two, with, commas and "quotes"', source="email", external_id="<m@x>"),
    ]
    feedback.update_item(session, ACTOR, items[0].id, FeedbackUpdate(status="triaged", assignee_id=None))
    feedback.link_feature(session, ACTOR, items[1].id, LinkIn(feature_id=feature.id))
    return [i.id for i in items]


def _snapshot(session: Session) -> list[tuple[Any, ...]]:
    session.rollback()
    return [
        (i.id, i.source, i.external_id, i.title, i.text, i.person_id, i.account_id, i.product_id, i.area, i.importance,
         i.status, i.notes, i.meta, i.received_at, tuple(i.tags), i.updated_at)
        for i in session.scalars(select(FeedbackItem).order_by(FeedbackItem.id))
    ]  # fmt: skip


def test_export_then_import_changes_nothing(
    member_client: Client, session: Session, world: dict[str, int], tmp_path: Path
) -> None:
    _seed_variety(session, world)
    before = _snapshot(session)
    exported = member_client.get(f"{API}/export.csv", params={"status": "all"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == 5 and rows[0]["text"].startswith("'=SUM")  # a spreadsheet would not run it
    assert json.loads(rows[2]["meta"]) == {"nested": {"a": [1, 2]}, "rating": 4} and rows[2]["product"] == "mobile"
    response = member_client.post(
        f"{API}/import",
        files={"file": ("feedback.csv", exported.content, "text/csv")},
        headers={"X-CSRF-Token": member_client.csrf},
    )
    body = response.json()
    assert response.status_code == 200, body
    assert (body["created"], body["updated"], body["unchanged"], body["committed"]) == (0, 0, 5, True)
    assert _snapshot(session) == before

    # The same through the command line, as XLSX (spreadsheet times keep milliseconds only).
    out = tmp_path / "feedback.xlsx"
    result = _cli("export", "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0 and "Exported 5 feedback items" in result.output
    again = _cli("import", str(out))
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 5 unchanged" in again.output
    assert _snapshot(session) == before


def test_export_filters_and_formats(session: Session, world: dict[str, int], tmp_path: Path) -> None:
    make_item(session, text="Old", source="email", received_at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
    make_item(session, text="New email", source="email", received_at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
    make_item(session, text="Survey", source="survey", product_id=world["product"], status="archived")
    out = tmp_path / "f.json"
    result = _cli("export", "--format", "json", "--out", str(out), "--source", "E-mail", "--since", "2024-01-01")
    assert result.exit_code == 0, result.output
    assert [r["text"] for r in json.loads(out.read_text())] == ["New email"]
    by_product = _cli("export", "--product", "Mobile App", "--status", "archived")
    assert by_product.exit_code == 0
    assert [r["text"] for r in csv.DictReader(io.StringIO(by_product.stdout))] == ["Survey"]
    none = _cli("export", "--format", "json", "--status", "linked")
    assert json.loads(none.stdout) == []
    bad = runner.invoke(commands.app, ["export", "--product", "tablet"])
    assert bad.exit_code == 2 and "no product 'tablet' (known: mobile, mobile app)" in _plain(bad.output)
    bad_date = runner.invoke(commands.app, ["export", "--since", "last week"])
    assert bad_date.exit_code == 2 and "'last week' is not a date" in _plain(bad_date.output)


def test_export_csv_api_follows_the_inbox_filters(viewer_client: Client, session: Session) -> None:
    make_item(session, text="New one", source="email")
    make_item(session, text="Archived one", source="email", status="archived")
    make_item(session, text="From a survey", source="survey")
    default = viewer_client.get(f"{API}/export.csv")
    texts = [r["text"] for r in csv.DictReader(io.StringIO(default.content.decode("utf-8-sig")))]
    assert sorted(texts) == ["From a survey", "New one"]  # like the inbox: new and triaged
    emails = viewer_client.get(f"{API}/export.csv", params={"status": "all", "source": "email"})
    assert sorted(r["text"] for r in csv.DictReader(io.StringIO(emails.content.decode("utf-8-sig")))) == [
        "Archived one",
        "New one",
    ]
    bad = viewer_client.get(f"{API}/export.csv", params={"source": "fax"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "source", 0]
    unknown_segment = viewer_client.get(f"{API}/export.csv", params={"segment_id": 999})
    assert unknown_segment.status_code == 422


def test_export_streams_in_batches(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from prodops.domains.feedback.queries import export
    from prodops.domains.feedback.queries.inbox import FeedbackFilters

    feedback.ingest_many(session, ACTOR, [FeedbackIn(text=f"Item {n}", external_id=f"B-{n}") for n in range(25)])
    rows = list(export.export_rows(session, FeedbackFilters(status=["all"]), batch=7))
    assert [r["external_id"] for r in rows] == [f"B-{n}" for n in range(25)]


# --- the import API -------------------------------------------------------------------------------


def test_import_api_dry_run_then_commit(member_client: Client, session: Session) -> None:
    data = _csv([["Body", "Kind"], ["Needs an API", "Survey"], ["Also", "nonsense"]])
    headers = {"X-CSRF-Token": member_client.csrf}
    files = {"file": ("f.csv", data, "text/csv")}
    bad = member_client.post(
        f"{API}/import", files=files, data={"mapping": '{"text": "Body", "source": "Kind"}'}, headers=headers
    )
    assert bad.status_code == 422
    assert [(e["row"], e["column"], e["field"]) for e in bad.json()["errors"]] == [(3, "Kind", "source")]
    good = _csv([["Body", "Kind"], ["Needs an API", "Survey"], ["Also", ""]])
    files = {"file": ("f.csv", good, "text/csv")}
    dry = member_client.post(
        f"{API}/import",
        files=files,
        data={"mapping": '{"text": "Body", "source": "Kind"}', "dry_run": "true"},
        headers=headers,
    )
    assert dry.status_code == 200 and dry.json()["committed"] is False and dry.json()["created"] == 2
    in_url = member_client.post(
        f"{API}/import?dry_run=true",
        files=files,
        data={"mapping": '{"text": "Body", "source": "Kind"}'},
        headers=headers,
    )
    assert in_url.status_code == 200 and in_url.json()["dry_run"] is True
    assert _count(session) == 0
    done = member_client.post(
        f"{API}/import",
        files=files,
        data={"mapping": '{"text": "Body", "source": "Kind"}', "source": "interview"},
        headers=headers,
    )
    assert done.status_code == 200 and done.json()["committed"] is True
    session.rollback()
    assert sorted(session.scalars(select(FeedbackItem.source))) == ["interview", "survey"]
    unreadable = member_client.post(
        f"{API}/import", files={"file": ("f.xls", b"\xd0\xcf\x11\xe0junk", "x")}, headers=headers
    )
    assert unreadable.status_code == 400 and unreadable.json()["detail"][0]["loc"] == ["body", "file"]
    bad_mapping = member_client.post(f"{API}/import", files=files, data={"mapping": "[1]"}, headers=headers)
    assert bad_mapping.status_code == 422 and bad_mapping.json()["detail"][0]["loc"] == ["body", "mapping"]


def test_import_api_access(client: Client, session: Session) -> None:
    files = {"file": ("f.csv", _csv([["text"], ["hi"]]), "text/csv")}
    assert client.post(f"{API}/import", files=files).status_code == 401
    read = make_token(make_user("admin"), scope="read")
    assert client.post(f"{API}/import", files=files, headers={"Authorization": f"Bearer {read}"}).status_code == 403
    viewer = make_token(make_user("viewer"), scope="read")
    assert client.post(f"{API}/import", files=files, headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    write = make_token(make_user("member"), scope="write")
    done = client.post(f"{API}/import", files=files, headers={"Authorization": f"Bearer {write}"})
    assert done.status_code == 200 and done.json()["created"] == 1
    assert _count(session) == 1
    assert client.get(f"{API}/export.csv").status_code == 401
    assert client.get(f"{API}/export.csv", headers={"Authorization": f"Bearer {read}"}).status_code == 200


def test_sample_file_imports_cleanly(member_client: Client, session: Session) -> None:
    sample = member_client.get("/feedback/import/sample.csv")
    assert sample.status_code == 200
    report = _import(session, sample.content, "sample.csv")
    assert report.committed and report.created == 2, report.errors
    assert _count(session) == 2


def test_write_csv_helper_round_trip_for_the_benchmark_shape(session: Session) -> None:
    """The benchmark's columns (external_id, source, title, text, person_email, person_name, tags, importance,
    received_at) import without a mapping."""
    header = [
        "external_id",
        "source",
        "title",
        "text",
        "person_email",
        "person_name",
        "tags",
        "importance",
        "received_at",
    ]
    rows = [["bench-1", "widget", "t", "text", "x@y.org", "X Y", "bug,ui", "", "2025-01-02T03:04:05+00:00"]]
    report = _import(session, write_csv(header, rows))
    assert report.committed and report.created == 1, report.errors


def test_prodops_ids_must_name_existing_items_once(session: Session) -> None:
    keyed = make_item(session, text="Keyed", source="survey", external_id="S-1")
    loose = make_item(session, text="Loose")
    data = _csv(
        [
            ["prodops_id", "source", "external_id", "text"],
            [str(keyed.id), "", "", "Keyed, edited"],
            [str(loose.id), "", "L-1", "Loose with a new external id"],
            ["999999", "", "", "No such item"],
            [str(keyed.id), "", "", "Keyed again"],
            ["", "survey", "S-1", "Same item by its external id"],
            [str(loose.id), "email", "", "Another source"],
        ]
    )
    report = _import(session, data, dry_run=True)
    messages = {(e.row, e.field): e.message for e in report.errors}
    assert set(messages) == {
        (3, "external_id"),
        (4, "prodops_id"),
        (5, "prodops_id"),
        (5, "external_id"),
        (6, "external_id"),
        (7, "source"),
        (7, "prodops_id"),
    }
    assert f"item {loose.id} has no external id, not 'L-1'" in messages[(3, "external_id")]
    assert "there is no feedback item 999999" in messages[(4, "prodops_id")]
    assert "already on row 2" in messages[(5, "prodops_id")] and "already on row 2" in messages[(6, "external_id")]
    assert "the source of an item does not change" in messages[(7, "source")]
    fine = _csv([["prodops_id", "text", "tags"], [str(keyed.id), "Keyed, edited", "x"], [str(loose.id), "Loose", "y"]])
    done = _import(session, fine)
    assert (done.created, done.updated, done.unchanged) == (0, 2, 0), done.errors
    session.rollback()
    assert {(i.text, tuple(i.tags)) for i in session.scalars(select(FeedbackItem))} == {
        ("Keyed, edited", ("x",)),
        ("Loose", ("y",)),
    }
