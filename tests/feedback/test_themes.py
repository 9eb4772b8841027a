"""Themes: clustering finds planted topics with readable labels, people's edits survive re-clustering, new items join
incrementally, emerging themes are detected (and notified once a week) on hand-built data, and the pages and API
answer the right people. Real database, real embedder (whatever ``get_embedder`` returns), real SMTP server."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from prodops.domains.feedback import service as feedback
from prodops.domains.feedback.models import FeedbackInsight, FeedbackItem, FeedbackTheme
from prodops.domains.feedback.queries import themes as queries
from prodops.domains.feedback.schemas import FeedbackIn
from prodops.domains.feedback.service import themes
from prodops.domains.feedback.service.themes import ThemeMerge, ThemeRename, ThemeSplit, clustering
from prodops.platform import audit
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope, transaction, utcnow
from prodops.platform.errors import Conflict, ValidationFailed
from prodops.platform.text import get_embedder, pack
from tests.conftest import Client, capture_events, make_token, make_user
from tests.feedback.conftest import ACTOR
from tests.platform.test_email import Mailbox, mailbox  # noqa: F401  # the real SMTP server fixture

# Four clearly different topics; every text carries its topic's anchor phrase plus varying words.
TOPICS: dict[str, tuple[str, list[str]]] = {
    "pdf": ("pdf export", ["charts", "layout", "pages", "fonts", "margins", "printing", "report", "tables"]),
    "dark": ("dark mode", ["night", "eyes", "bright", "contrast", "black", "screen", "glare", "colours"]),
    "login": ("password reset", ["login", "locked", "sign", "account", "link", "expired", "email", "code"]),
    "billing": ("invoice", ["billing", "vat", "payment", "card", "charged", "refund", "price", "receipt"]),
}
FILLER = ["since yesterday", "on my laptop", "every single time", "for our whole team", "after the update", ""]


def topic_texts(topic: str, n: int, seed: int = 0) -> list[str]:
    anchor, words = TOPICS[topic]
    rng = random.Random(f"{topic}-{seed}")
    texts = []
    for _ in range(n):
        picked = rng.sample(words, 3)
        texts.append(f"The {anchor} {picked[0]} {picked[1]} problem, {picked[2]} {rng.choice(FILLER)}".strip())
    return texts


def analysed(session: Session, texts: Sequence[str], **fields: object) -> list[int]:
    """Ingest items and store their embeddings, as the analysis pipeline would (upsert: it may have run already)."""
    result = feedback.ingest_many(session, ACTOR, [FeedbackIn.model_validate({"text": t, **fields}) for t in texts])
    vectors = get_embedder().embed(list(texts))
    blobs = pack(vectors)
    with transaction(session):
        for item_id, blob in zip(result.ids, blobs, strict=True):
            row = session.get(FeedbackInsight, item_id)
            if row is None:
                session.add(FeedbackInsight(item_id=item_id, embedding=blob, model_version="test"))
            else:
                row.embedding = blob
    session.expire_all()
    return result.ids


def planted(session: Session, per_topic: int = 15, **fields: object) -> dict[str, list[int]]:
    return {topic: analysed(session, topic_texts(topic, per_topic), **fields) for topic in TOPICS}


def theme_of(session: Session, item_ids: Sequence[int]) -> dict[int, int | None]:
    rows = session.execute(
        select(FeedbackInsight.item_id, FeedbackInsight.theme_id).where(FeedbackInsight.item_id.in_(list(item_ids)))
    )
    return {row[0]: row[1] for row in rows}


def majority(session: Session, item_ids: Sequence[int]) -> tuple[int | None, float]:
    """The theme most of these items are in, and the share of them in it."""
    found = Counter(theme_of(session, item_ids).values())
    theme_id, count = found.most_common(1)[0]
    return theme_id, count / len(item_ids)


def active_themes(session: Session) -> list[FeedbackTheme]:
    session.expire_all()
    return list(session.scalars(select(FeedbackTheme).where(FeedbackTheme.merged_into_id.is_(None))))


# --- key phrases (platform/text/phrases is tested on its own in tests/platform/test_phrases.py) -------------


def test_recluster_finds_planted_topics_with_readable_labels(session: Session) -> None:
    groups = planted(session)
    result = themes.recluster(session)
    assert not result.skipped
    assert result.themes == 4 and result.created == 4 and result.chosen_by == "separation"
    assert result.clustered == 60
    seen: set[int] = set()
    for topic, ids in groups.items():
        theme_id, share = majority(session, ids)
        assert theme_id is not None and share == 1.0, f"{topic} items are split across themes"
        assert theme_id not in seen
        seen.add(theme_id)
        theme = session.get(FeedbackTheme, theme_id)
        assert theme is not None
        anchor = TOPICS[topic][0]
        assert anchor in theme.label, f"label {theme.label!r} does not name {anchor!r}"
        assert theme.size == 15
        assert theme.centroid is not None and len(theme.centroid) == 2 * get_embedder().dim
    # Running it again on the same data changes nothing: same themes, same members.
    again = themes.recluster(session)
    assert again.created == 0 and again.kept == 4 and again.removed == 0
    assert {majority(session, ids)[0] for ids in groups.values()} == seen


def test_too_little_feedback_is_not_clustered(session: Session) -> None:
    analysed(session, topic_texts("pdf", 10))
    result = themes.recluster(session)
    assert result.skipped and "20" in result.skipped
    assert active_themes(session) == []


def test_archived_items_count_but_do_not_shape_the_themes(session: Session) -> None:
    groups = planted(session)
    old = analysed(session, topic_texts("dark", 6, seed=3), status="archived")
    themes.recluster(session)
    dark, _ = majority(session, groups["dark"])
    assert set(theme_of(session, old).values()) == {dark}
    theme = session.get(FeedbackTheme, dark)
    assert theme is not None and theme.size == 21


# --- edits survive re-clustering -----------------------------------------------------------------------------


def test_rename_survives_recluster(session: Session) -> None:
    groups = planted(session)
    themes.recluster(session)
    pdf, _ = majority(session, groups["pdf"])
    assert pdf is not None
    renamed = themes.rename(session, ACTOR, pdf, ThemeRename(label="  Export   to PDF "))
    assert renamed.label == "Export to PDF" and renamed.edited and "pdf export" in renamed.generated_label
    analysed(session, topic_texts("pdf", 5, seed=9))  # more of the same arrives
    themes.recluster(session)
    assert majority(session, groups["pdf"]) == (pdf, 1.0)
    theme = session.get(FeedbackTheme, pdf)
    assert theme is not None and theme.custom_label == "Export to PDF" and theme.size == 20
    # An empty name goes back to the generated label.
    assert themes.rename(session, ACTOR, pdf, ThemeRename(label="")).label == theme.label


def test_merge_survives_recluster(session: Session) -> None:
    groups = planted(session)
    themes.recluster(session)
    dark, _ = majority(session, groups["dark"])
    pdf, _ = majority(session, groups["pdf"])
    assert dark is not None and pdf is not None
    with capture_events("feedback.theme.*") as seen:
        survivor = themes.merge(session, ACTOR, dark, ThemeMerge(into_id=pdf))
    assert survivor.id == pdf and survivor.size == 30 and survivor.merged_from == [dark]
    assert [e.payload["action"] for e in seen] == ["merge"]
    result = themes.recluster(session)
    # The clustering still finds the dark-mode group; it lands in the survivor, not in a new theme.
    assert result.created == 0
    assert majority(session, groups["dark"]) == (pdf, 1.0)
    assert majority(session, groups["pdf"]) == (pdf, 1.0)
    merged = session.get(FeedbackTheme, dark)
    assert merged is not None and merged.merged_into_id == pdf and merged.size == 0
    assert len(active_themes(session)) == 3
    # New dark-mode feedback joins the survivor incrementally too.
    new_ids = analysed(session, topic_texts("dark", 3, seed=5))
    vectors = get_embedder().embed(topic_texts("dark", 3, seed=5))
    assigned = themes.assign(session, new_ids, vectors)
    assert {theme_id for theme_id, _ in assigned.values()} == {pdf}


def test_merge_refuses_bad_targets_and_changes_nothing(session: Session) -> None:
    groups = planted(session)
    themes.recluster(session)
    dark, _ = majority(session, groups["dark"])
    pdf, _ = majority(session, groups["pdf"])
    assert dark is not None and pdf is not None
    with pytest.raises(ValidationFailed) as itself:
        themes.merge(session, ACTOR, dark, ThemeMerge(into_id=dark))
    assert itself.value.field == "into_id"
    with pytest.raises(ValidationFailed) as missing:
        themes.merge(session, ACTOR, dark, ThemeMerge(into_id=999_999))
    assert missing.value.field == "into_id"
    themes.merge(session, ACTOR, dark, ThemeMerge(into_id=pdf))
    with pytest.raises(Conflict):
        themes.merge(session, ACTOR, dark, ThemeMerge(into_id=pdf))
    login, _ = majority(session, groups["login"])
    assert login is not None
    with pytest.raises(ValidationFailed):
        themes.merge(session, ACTOR, login, ThemeMerge(into_id=dark))
    assert majority(session, groups["login"]) == (login, 1.0)


def test_split_survives_recluster(session: Session) -> None:
    groups = planted(session)
    themes.recluster(session)
    dark, _ = majority(session, groups["dark"])
    pdf, _ = majority(session, groups["pdf"])
    assert dark is not None and pdf is not None
    themes.merge(session, ACTOR, dark, ThemeMerge(into_id=pdf))
    # A person decides the merged theme was two after all, and splits it.
    parts = themes.split(session, ACTOR, pdf, ThemeSplit(parts=2))
    assert len(parts) == 2 and parts[0].id == pdf and all(p.edited for p in parts)
    assert sorted(p.size for p in parts) == [15, 15]
    pdf_part, pdf_share = majority(session, groups["pdf"])
    dark_part, dark_share = majority(session, groups["dark"])
    assert pdf_part != dark_part and pdf_share == 1.0 and dark_share == 1.0
    # The theme merged earlier now leads to the part that holds its kind of feedback.
    merged = session.get(FeedbackTheme, dark)
    assert merged is not None and merged.merged_into_id == dark_part
    result = themes.recluster(session)
    assert result.created == 0 and result.removed == 0
    assert majority(session, groups["pdf"]) == (pdf_part, 1.0)
    assert majority(session, groups["dark"]) == (dark_part, 1.0)


def test_split_of_one_topic_survives_recluster(session: Session) -> None:
    groups = planted(session)
    themes.recluster(session)
    login, _ = majority(session, groups["login"])
    assert login is not None
    parts = themes.split(session, ACTOR, login, ThemeSplit(parts=2))
    before = {p.id: set(themes.members_of(session, p.id)) for p in parts}
    assert all(len(m) >= 1 for m in before.values()) and sum(map(len, before.values())) == 15
    themes.recluster(session)
    for theme_id, members in before.items():
        now = set(themes.members_of(session, theme_id))
        assert len(now & members) >= 0.8 * len(members), f"part {theme_id} lost its items"


def test_split_needs_enough_items(session: Session) -> None:
    groups = planted(session, per_topic=6)
    themes.recluster(session)
    pdf, _ = majority(session, groups["pdf"])
    assert pdf is not None
    with pytest.raises(ValidationFailed) as refused:
        themes.split(session, ACTOR, pdf, ThemeSplit(parts=3))
    assert refused.value.field == "parts" and "15" in refused.value.message
    assert majority(session, groups["pdf"]) == (pdf, 1.0)


def test_an_edited_theme_that_loses_its_items_is_kept_empty(session: Session) -> None:
    groups = planted(session)
    themes.recluster(session)
    billing, _ = majority(session, groups["billing"])
    assert billing is not None
    themes.rename(session, ACTOR, billing, ThemeRename(label="Invoices"))
    for item_id in groups["billing"]:
        feedback.delete_item(session, ACTOR, item_id)
    result = themes.recluster(session)
    assert result.emptied == 1
    kept = session.get(FeedbackTheme, billing)
    assert kept is not None and kept.size == 0 and kept.custom_label == "Invoices"


# --- incremental assignment ----------------------------------------------------------------------------------


def test_new_items_join_the_nearest_theme_when_close_enough(session: Session) -> None:
    groups = planted(session)
    themes.recluster(session)
    login, _ = majority(session, groups["login"])
    assert login is not None
    before = session.get(FeedbackTheme, login)
    assert before is not None and before.size == 15
    texts = [*topic_texts("login", 2, seed=7), "Kangaroos hop across the outback under a huge orange moon"]
    ids = analysed(session, texts)
    vectors = get_embedder().embed(texts)
    assigned = themes.assign(session, ids, vectors)
    assert assigned[ids[0]][0] == login and assigned[ids[1]][0] == login
    assert assigned[ids[2]][0] is None
    assert 0 < assigned[ids[2]][1] < assigned[ids[0]][1] <= 1
    session.expire_all()
    theme = session.get(FeedbackTheme, login)
    assert theme is not None and theme.size == 17
    assert theme_of(session, ids)[ids[0]] == login
    # Assigning again does not count them twice.
    themes.assign(session, ids, vectors)
    session.expire_all()
    theme = session.get(FeedbackTheme, login)
    assert theme is not None and theme.size == 17


def test_assign_without_themes_and_with_bad_input(session: Session) -> None:
    ids = analysed(session, topic_texts("pdf", 2))
    vectors = get_embedder().embed(topic_texts("pdf", 2))
    assert themes.assign(session, ids, vectors) == {ids[0]: (None, 0.0), ids[1]: (None, 0.0)}
    assert themes.assign(session, [], np.zeros((0, vectors.shape[1]))) == {}
    with pytest.raises(ValueError, match="item ids"):
        themes.assign(session, ids, vectors[:1])


def test_assignment_threshold_follows_the_theme_tightness() -> None:
    centroids = np.asarray([[0.8, 0.0], [0.0, 0.2]], dtype=np.float32)
    limits = clustering.thresholds(centroids)
    assert limits.tolist() == pytest.approx([0.4, clustering.MIN_COSINE])
    labels, scores = clustering.assign_passing(np.asarray([[1.0, 0.0], [0.3, 0.954], [-1.0, 0.0]]), centroids)
    assert labels.tolist() == [0, 1, -1]
    assert scores[0] == pytest.approx(1.0)


def test_matching_pairs_new_clusters_with_old_themes_above_the_floor() -> None:
    old = np.asarray([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    new = np.asarray([[0.0, 0.99, 0.1], [0.0, 0.0, 1.0], [0.98, 0.05, 0.0]], dtype=np.float32)
    pairs = clustering.match(new, old)
    assert sorted((n, o) for n, o, _ in pairs) == [(0, 1), (2, 0)]


# --- emerging themes -----------------------------------------------------------------------------------------

# A Wednesday noon: "this week" has run since Monday 00:00 UTC.
NOW = dt.datetime(2026, 3, 11, 12, 0, tzinfo=dt.UTC)
WEEK = queries.iso_week(NOW)


def _hand_built(session: Session, plan: dict[str, tuple[int, int]], *, per_week: int, this_week: int) -> dict[str, int]:
    """Themes with a known history: ``plan[name] = (items per baseline week, items this week)``; the rest of each
    week's feedback has no theme."""
    start = queries.week_start(WEEK)
    with transaction(session):
        ids = {}
        for name in plan:
            theme = FeedbackTheme(label=name, key_phrases=[name], size=0)
            session.add(theme)
            session.flush()
            ids[name] = theme.id
        rows: list[dict[str, object]] = []
        insights: list[dict[str, object]] = []
        next_id = 1
        for week in range(-queries.BASELINE_WEEKS, 1):
            monday = start + dt.timedelta(weeks=week)
            total = this_week if week == 0 else per_week
            owners = [ids[n] for n, (base, now_) in plan.items() for _ in range(now_ if week == 0 else base)]
            owners += [None] * (total - len(owners))
            for n, owner in enumerate(owners):
                received = monday + dt.timedelta(minutes=17 * n) if week == 0 else monday + dt.timedelta(hours=n)
                rows.append({"id": next_id, "text": f"item {next_id}", "received_at": received, "meta": {}})
                insights.append({"item_id": next_id, "theme_id": owner, "model_version": "test"})
                next_id += 1
        session.execute(insert(FeedbackItem), rows)
        session.execute(insert(FeedbackInsight), insights)
    assert all(r["received_at"] < NOW for r in rows)  # type: ignore[operator]
    return ids


def test_emerging_report_tells_growth_from_volume_and_anecdotes(session: Session) -> None:
    # 50 items a week before; this week 100 so far. "growing" goes from 2 to 15 a week; "steady" doubles with all
    # feedback (same share); "new" appears with 3 items only.
    ids = _hand_built(session, {"growing": (2, 15), "steady": (10, 20), "new": (0, 3)}, per_week=50, this_week=100)
    report = queries.emerging_report(session, WEEK, now=NOW)
    rows = {r.theme_id: r for r in report.rows}
    assert report.total == 100 and report.baseline_total == 400
    growing, steady, new = rows[ids["growing"]], rows[ids["steady"]], rows[ids["new"]]
    assert growing.emerging and growing.reason == "emerging"
    assert growing.count == 15 and growing.baseline_count == 16
    assert growing.q_value is not None and growing.q_value < 1e-4 and growing.lift is not None and growing.lift > 3
    assert not steady.emerging and steady.reason == "not significant" and steady.count == 20
    assert not new.emerging and new.reason == "too few"
    assert new.p_value is not None and new.p_value < 0.05  # significant on its own, but three items are an anecdote
    assert [r.theme_id for r in report.emerging] == [ids["growing"]]
    # Benjamini–Hochberg never lowers a p-value.
    assert all(r.q_value is not None and r.p_value is not None and r.q_value >= r.p_value for r in report.rows)


def test_no_baseline_means_no_alert(session: Session) -> None:
    ids = _hand_built(session, {"fresh": (0, 30)}, per_week=0, this_week=40)
    report = queries.emerging_report(session, WEEK, now=NOW)
    assert report.baseline_total == 0
    row = report.rows[0]
    assert row.theme_id == ids["fresh"] and not row.emerging and row.reason == "no baseline"


def test_emerging_theme_notifies_admins_once_per_week(session: Session, mailbox: Mailbox) -> None:  # noqa: F811
    admin = make_user("admin", email="ada-admin@example.com")
    make_user("member", email="max-member@example.com")
    ids = _hand_built(session, {"growing": (2, 15), "steady": (10, 20)}, per_week=50, this_week=100)
    with capture_events("feedback.theme.emerging") as seen:
        report = themes.check_emerging(session, WEEK, now=NOW)
    assert report.notified == [ids["growing"]]
    assert len(seen) == 1 and seen[0].payload["theme_id"] == ids["growing"] and seen[0].payload["week"] == WEEK
    messages = mailbox.wait_for(1)
    assert [m.rcpt_tos for m in messages] == [[admin.email]]
    assert "Emerging theme: growing (15 this week)" in str(messages[0].message["Subject"])
    assert f"/feedback/themes/{ids['growing']}" in messages[0].part("plain")
    theme = session.get(FeedbackTheme, ids["growing"])
    assert theme is not None and theme.alerted_week == WEEK
    # Checking again in the same week sends nothing more.
    with capture_events("feedback.theme.emerging") as again:
        second = themes.check_emerging(session, WEEK, now=NOW + dt.timedelta(days=2))
    assert second.notified == [] and again == []
    assert len(mailbox.received) == 1


def test_week_parameter_is_validated(session: Session) -> None:
    with pytest.raises(ValidationFailed) as bad:
        queries.emerging_report(session, "2026-48")
    assert bad.value.field == "week"
    with pytest.raises(ValidationFailed):
        queries.emerging_report(session, "2026-W60")


# --- pages and API -------------------------------------------------------------------------------------------


LAST_WEEK = queries.current_week_start() - dt.timedelta(days=4)


@pytest.fixture
def clustered() -> dict[str, list[int]]:
    """The four planted topics, received last week, clustered."""
    with session_scope() as s:
        groups = planted(s, received_at=LAST_WEEK)
        themes.recluster(s)
    return groups


def _theme_id(topic_ids: Sequence[int]) -> int:
    with session_scope() as s:
        theme_id, _ = majority(s, topic_ids)
    assert theme_id is not None
    return theme_id


def test_themes_page_lists_themes_with_a_trend_chart(viewer_client: Client, clustered: dict[str, list[int]]) -> None:
    page = viewer_client.get("/feedback/themes")
    assert page.status_code == 200
    for anchor, _ in TOPICS.values():
        assert anchor in page.text
    assert 'data-vega-src="/feedback/themes/trend.json"' in page.text
    assert 'class="sparkline"' in page.text
    assert 'href="/feedback/themes"' in page.text and 'aria-current="page"' in page.text  # the nav entry
    assert "Re-cluster all feedback" not in page.text  # admins only
    spec = viewer_client.get("/feedback/themes/trend.json").json()
    assert spec["mark"]["type"] == "line"
    assert sum(v["count"] for v in spec["data"]["values"]) == 60
    labels = {v["theme"] for v in spec["data"]["values"]}
    assert len(labels) == 4 and all(any(a in label for a, _ in TOPICS.values()) for label in labels)
    found = viewer_client.get("/feedback/themes", params={"q": "dark"})
    assert "dark mode" in found.text and "password reset" not in found.text


def test_theme_page_shows_trend_samples_and_member_actions(
    member_client: Client, clustered: dict[str, list[int]]
) -> None:
    theme_id = _theme_id(clustered["login"])
    page = member_client.get(f"/feedback/themes/{theme_id}")
    assert page.status_code == 200
    assert f'data-vega-src="/feedback/themes/{theme_id}/trend.json"' in page.text
    assert f"/feedback?theme_id={theme_id}&amp;status=all" in page.text
    assert "password reset" in page.text and 'action="/feedback/themes/' in page.text
    spec = member_client.get(f"/feedback/themes/{theme_id}/trend.json").json()
    assert spec["mark"]["type"] == "bar" and sum(v["count"] for v in spec["data"]["values"]) == 15
    renamed = member_client.form(f"/feedback/themes/{theme_id}/rename", {"label": "Sign-in <trouble>"})
    assert renamed.status_code == 200 and "Sign-in &lt;trouble&gt;" in renamed.text
    refused = member_client.form(f"/feedback/themes/{theme_id}/merge", {"into_id": ""})
    assert refused.status_code == 422 and "choose the theme to merge into" in refused.text
    too_many = member_client.form(f"/feedback/themes/{theme_id}/split", {"parts": "9"})
    assert too_many.status_code == 422 and 'id="e-parts"' in too_many.text


def test_viewer_reads_but_cannot_edit(viewer_client: Client, clustered: dict[str, list[int]]) -> None:
    theme_id = _theme_id(clustered["pdf"])
    page = viewer_client.get(f"/feedback/themes/{theme_id}")
    assert page.status_code == 200 and f'action="/feedback/themes/{theme_id}/rename"' not in page.text
    assert viewer_client.form(f"/feedback/themes/{theme_id}/rename", {"label": "x"}).status_code == 403
    headers = {"X-CSRF-Token": viewer_client.csrf}
    assert (
        viewer_client.patch(f"/api/v1/feedback/themes/{theme_id}", json={"label": "x"}, headers=headers).status_code
        == 403
    )
    with session_scope() as s:
        theme = s.get(FeedbackTheme, theme_id)
        assert theme is not None and theme.custom_label is None


def test_anonymous_is_sent_to_sign_in(client: Client, clustered: dict[str, list[int]]) -> None:
    page = client.get("/feedback/themes", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert client.get("/api/v1/feedback/themes").status_code == 401
    assert client.get("/feedback/themes/trend.json", headers={"Accept": "application/json"}).status_code in (303, 401)


def test_api_lists_reads_and_edits_themes(client: Client, clustered: dict[str, list[int]]) -> None:
    reader = {"Authorization": f"Bearer {make_token(make_user('viewer'), 'read')}"}
    writer = {"Authorization": f"Bearer {make_token(make_user('member'), 'write')}"}
    listed = client.get("/api/v1/feedback/themes", headers=reader).json()
    assert listed["total"] == 4 and len(listed["items"]) == 4 and listed["week"] == queries.iso_week(utcnow())
    assert sorted(t["size"] for t in listed["items"]) == [15, 15, 15, 15]
    assert all(len(t["weekly"]) == queries.LIST_WEEKS and t["weekly"][-2:] == [15, 0] for t in listed["items"])
    assert all(t["this_week"] == 0 and t["baseline_weekly"] == 15 / queries.BASELINE_WEEKS for t in listed["items"])
    pdf = _theme_id(clustered["pdf"])
    dark = _theme_id(clustered["dark"])
    one = client.get(f"/api/v1/feedback/themes/{pdf}", headers=reader).json()
    assert (
        one["size"] == 15 and len(one["samples"]) == queries.SAMPLE_ITEMS and len(one["series"]) == queries.DETAIL_WEEKS
    )
    assert client.patch(f"/api/v1/feedback/themes/{pdf}", json={"label": "PDF"}, headers=reader).status_code == 403
    bad = client.patch(f"/api/v1/feedback/themes/{pdf}", json={"label": "x" * 201}, headers=writer)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "label"
    assert (
        client.patch(f"/api/v1/feedback/themes/{pdf}", json={"label": "PDF"}, headers=writer).json()["label"] == "PDF"
    )
    refused = client.post(f"/api/v1/feedback/themes/{dark}/merge", json={"into_id": 424242}, headers=writer)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "into_id"]
    merged = client.post(f"/api/v1/feedback/themes/{dark}/merge", json={"into_id": pdf}, headers=writer)
    assert merged.status_code == 200 and merged.json()["id"] == pdf and merged.json()["size"] == 30
    moved = client.get(f"/api/v1/feedback/themes/{dark}", headers=reader, follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == f"/api/v1/feedback/themes/{pdf}"
    assert moved.json()["merged_into_id"] == pdf
    split = client.post(f"/api/v1/feedback/themes/{pdf}/split", json={"parts": 2}, headers=writer)
    assert split.status_code == 200 and split.json()["total"] == 2
    assert sum(t["size"] for t in split.json()["items"]) == 30
    # The inbox filters by theme.
    inbox = client.get("/api/v1/feedback", params={"theme_id": pdf, "status": "all", "per_page": 100}, headers=reader)
    assert inbox.status_code == 200
    members = {i["id"] for i in inbox.json()["items"]}
    assert members and members == {i for i, t in theme_of_all(pdf).items() if t == pdf}


def theme_of_all(theme_id: int) -> dict[int, int | None]:
    with session_scope() as s:
        rows = s.execute(
            select(FeedbackInsight.item_id, FeedbackInsight.theme_id).where(FeedbackInsight.theme_id == theme_id)
        )
        return {row[0]: row[1] for row in rows}


def test_recluster_and_emerging_check_are_for_admins(client: Client, clustered: dict[str, list[int]]) -> None:
    member = {"Authorization": f"Bearer {make_token(make_user('member'), 'write')}"}
    admin = {"Authorization": f"Bearer {make_token(make_user('admin'), 'write')}"}
    assert client.post("/api/v1/feedback/themes/recluster", headers=member).status_code == 403
    queued = client.post("/api/v1/feedback/themes/recluster", headers=admin)
    assert queued.status_code == 202 and queued.json()["queued"] is True
    with session_scope() as s:  # jobs run inline in tests: the re-clustering happened and was audited
        runs = audit.history(s, themes.ENTITY, "all")
    assert len(runs) == 2 and runs[0].changes["kept"] == [None, 4]
    assert client.post("/api/v1/feedback/themes/emerging", headers=member).status_code == 403
    assert client.post("/api/v1/feedback/themes/emerging", params={"week": "bad"}, headers=admin).status_code == 422
    assert client.post("/api/v1/feedback/themes/emerging", headers=admin).status_code == 202
    report = client.get("/api/v1/feedback/themes/emerging", headers=member).json()
    assert report["week"] == queries.iso_week(utcnow()) and report["baseline_total"] == 60 and len(report["rows"]) == 4
    assert report["total"] == 0 and all(r["reason"] == "too few" and r["count"] == 0 for r in report["rows"])


def test_admin_page_shows_the_last_run_summary(admin_client: Client, clustered: dict[str, list[int]]) -> None:
    done = admin_client.form("/feedback/themes/recluster")
    assert done.status_code == 200 and "Re-clustering started" in done.text
    assert 'id="last-run"' in done.text and "60 of 60 analysed items in 4 themes" in done.text
    assert "Re-cluster all feedback" in done.text


def test_actor_is_recorded(session: Session) -> None:
    groups = planted(session)
    themes.recluster(session, actor=Actor.system("nightly"))
    theme_id, _ = majority(session, groups["pdf"])
    assert theme_id is not None
    themes.rename(session, Actor(None, "someone@example.com"), theme_id, ThemeRename(label="PDF"))
    detail = queries.get_theme(session, theme_id)
    assert detail.custom_label == "PDF"
    records = audit.history(session, themes.ENTITY, theme_id)
    assert records[0].action == "rename" and records[0].actor_label == "someone@example.com"
    assert audit.history(session, themes.ENTITY, "all")[0].actor_label == "nightly"


def test_the_analysis_sweep_gives_a_new_workspace_its_first_themes(session: Session) -> None:
    from prodops.domains.feedback import jobs
    from prodops.domains.feedback.service import items

    topics = ["export to pdf loses charts", "login with sso fails", "dark mode please", "billing invoice is wrong"]
    batch = [FeedbackIn(text=f"{topics[n % 4]} ({n})") for n in range(themes.FIRST_THEMES_AT - 10)]
    items.ingest_many(session, Actor.system("test"), batch)  # analysed inline (jobs run immediately in tests)
    jobs.analyse_stale()
    assert session.scalar(select(FeedbackTheme.id).limit(1)) is None, "too few items: no themes yet"
    items.ingest_many(session, Actor.system("test"), [FeedbackIn(text=f"{topics[n % 4]} [{n}]") for n in range(10)])
    jobs.analyse_stale()
    session.rollback()
    assert session.scalar(select(func.count()).select_from(FeedbackTheme)) >= 2
