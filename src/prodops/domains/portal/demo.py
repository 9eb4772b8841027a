"""Demo portal: "Acme Ideas" at /p/acme with four boards tied to the demo products (one only for Enterprise
accounts, with approval), about 300 ideas — one per live demo feature plus customer-submitted ones — thousands of
skewed votes from demo people (a few cast by staff on a customer's behalf), followers, comments with official
answers and an internal note, and something waiting in the moderation queue. Every idea, vote and customer
comment is filed as feedback, so the demand ranking counts the portal. Written in bulk; seeding twice changes
nothing."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import Condition, SegmentIn
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn
from prodops.domains.portal.models import Board, Comment, Follow, Idea, Portal, PortalUser, Vote
from prodops.domains.portal.service import demand
from prodops.platform import registry
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.demo import DemoContext

SEED = 20_261_205
ACTOR = Actor.system("demo")
SLUG = "acme"
VOTES = 6_000
"""Votes to hand out (fewer when an idea runs out of eligible people)."""
VOTERS = 1_500
"""Demo people who have a portal account."""
ENTERPRISE_SEGMENT = "Enterprise accounts"

BOARDS = [
    # slug, name, product key, description, enterprise only, requires approval
    ("core", "Acme Core", "core", "Ideas for the web application: reporting, editing, collaboration.", False, False),
    ("mobile", "Acme Mobile", "mobile", "Ideas for the iOS and Android apps.", False, False),
    ("integrations", "Integrations", "core", "Connect Acme to the tools you already use.", False, False),
    (
        "enterprise",
        "Enterprise",
        "core",
        "Administration, security and compliance — visible to Enterprise customers only. New posts are reviewed first.",
        True,
        True,
    ),
]

# Customer-submitted ideas: "ask" templates over the things customers work with, per board.
_SUBJECTS = {
    "core": [
        "invoices",
        "reports",
        "dashboards",
        "projects",
        "tasks",
        "time entries",
        "the customer list",
        "templates",
        "files",
        "the calendar",
    ],
    "mobile": ["offline notes", "photos", "the home screen", "conversations", "reminders"],
    "integrations": ["Salesforce sync", "the Slack app", "Zapier triggers", "the HubSpot import", "webhooks"],
    "enterprise": ["user roles", "approvals", "the audit log", "API keys", "data retention"],
}
_ASKS = [
    "Bulk edit {s}",
    "Export {s} to Excel",
    "Custom fields on {s}",
    "Archive {s} automatically after a year",
    "Keyboard shortcuts for {s}",
    "Duplicate {s} in one click",
    "Share {s} with a read-only link",
    "Filter {s} by tag",
]
_BODIES = [
    "We do this every week and it takes our team far too long today.",
    "Our managers keep asking for this; right now we copy things into a spreadsheet.",
    "This is the one thing that stops us from rolling Acme out to the whole company.",
    "Competitors have this. It would make our renewal conversation much easier.",
    "Small thing, big difference for people who live in the app all day.",
    "",
]
_COMMENTS = [
    "+1, we need this too.",
    "This would save us hours every month.",
    "Any update on this? It keeps coming up in our team meetings.",
    "We worked around it with a spreadsheet, but it is painful.",
    "Same here — **especially** for our finance team.",
    "Would love to see this, ideally with an API as well.",
    "Please! Our admins ask for this every week.",
    "This is blocking our rollout to two more departments.",
    "Agree. A setting per workspace would be enough for us.",
    "Is there a workaround in the meantime?",
]
_OFFICIAL = {
    "planned": "Thanks for all the votes — this is **planned**. We will post here when it ships.",
    "active": "We are building this right now. Follow the idea to hear when it is ready.",
    "shipped": "This has shipped! Have a look and tell us what you think.",
    "considering": "We are looking into this and would love more detail: how would you use it?",
}


@dataclass(frozen=True)
class _Person:
    person_id: int
    email: str
    name: str
    enterprise: bool


def _enterprise_segment(session: Session) -> int:
    for segment in customers.list_segments(session, "accounts"):
        if segment.name == ENTERPRISE_SEGMENT:
            return segment.id
    data = SegmentIn(
        name=ENTERPRISE_SEGMENT,
        description="Accounts in the Enterprise segment (the portal's Enterprise board is theirs).",
        entity="accounts",
        filters=[Condition(field="segment", op="eq", value="Enterprise")],
    )
    return customers.create_segment(session, ACTOR, data).id


def _people(session: Session, rng: random.Random) -> list[_Person]:
    facts = customers.account_facts().subquery("af")
    people = customers.person_accounts().subquery("pa")
    rows = list(
        session.execute(
            select(people.c.person_id, people.c.email, facts.c.segment)
            .outerjoin(facts, facts.c.account_id == people.c.account_id)
            .order_by(people.c.person_id)
        )
    )
    chosen = rng.sample(rows, k=min(VOTERS, len(rows)))
    names = customers.people_by_id(session, [r[0] for r in chosen])
    return [
        _Person(r[0], r[1], names[r[0]].name if r[0] in names else "", r[2] == "Enterprise")
        for r in chosen
        if r[0] in names
    ]


def _board_for(product_key: str | None, area: str | None) -> str:
    if product_key == "mobile":
        return "mobile"
    if area == "Integrations":
        return "integrations"
    if area in ("Administration", "Privacy & security"):
        return "enterprise"
    return "core"


def _ago(rng: random.Random, now: dt.datetime, days: int) -> dt.datetime:
    return now - dt.timedelta(days=rng.uniform(0, days), minutes=rng.randint(0, 59))


class _Seeder:
    """The demo portal, built step by step in the caller's transaction."""

    def __init__(self, session: Session, ctx: DemoContext, rng: random.Random) -> None:
        self.session, self.ctx, self.rng = session, ctx, rng
        self.now = utcnow()
        self.staff = [u for u in ctx.user_ids[1:] if u] or ctx.user_ids
        self.first_status = {
            key: next((s.key for s in features.statuses_for(session, pid) if s.kind == "idea"), "idea")
            for key, pid in ctx.product_ids.items()
        }
        self.boards: dict[str, Board] = {}
        self.users: list[PortalUser] = []
        self.enterprise_users: list[PortalUser] = []
        self.ideas: list[Idea] = []
        self.votes = self.proxy = self.follows = self.comments = 0

    def pool(self, idea: Idea) -> list[PortalUser]:
        """Who may see the idea's board (the Enterprise board is for Enterprise accounts only)."""
        return self.enterprise_users if idea.board_id == self.boards["enterprise"].id else self.users

    def portal(self) -> None:
        segment_id = _enterprise_segment(self.session)
        portal = Portal(
            slug=SLUG,
            name="Acme Ideas",
            intro="Tell us what would make Acme better. **Vote** for the ideas you want most, follow them to hear "
            "when they ship, and see what we are working on in the roadmap.",
            primary_color="#3451b2",
            background_color="#ffffff",
            visibility="public",
            allow_anonymous=True,
        )
        self.session.add(portal)
        self.session.flush()
        for position, (slug, name, product, description, enterprise, approval) in enumerate(BOARDS):
            self.boards[slug] = Board(
                portal_id=portal.id,
                slug=slug,
                name=name,
                description=description,
                product_id=self.ctx.product_ids.get(product),
                segment_id=segment_id if enterprise else None,
                require_approval=approval,
                position=position,
            )
            self.session.add(self.boards[slug])
        self.session.flush()

    def people(self) -> None:
        people = _people(self.session, self.rng)
        rows = []
        for p in people:
            joined = _ago(self.rng, self.now, 400)
            rows.append(
                {
                    "email": p.email,
                    "name": p.name,
                    "person_id": p.person_id,
                    "created_at": joined,
                    "email_verified_at": joined,
                }
            )
        self.session.execute(insert(PortalUser), rows)
        stmt = select(PortalUser).where(PortalUser.person_id.is_not(None))
        by_email = {u.email: u for u in self.session.scalars(stmt)}
        self.users = [by_email[p.email] for p in people]
        self.enterprise_users = [u for u, p in zip(self.users, people, strict=True) if p.enterprise] or self.users

    def new_feature(self, title: str, body: str, product_key: str) -> int:
        data = FeatureIn(
            title=title,
            description=body,
            product_id=self.ctx.product_ids.get(product_key),
            status=self.first_status.get(product_key),
        )
        return features.create_feature(self.session, ACTOR, data).id

    def ideas_(self) -> None:
        """One idea per live demo feature, then customer-submitted ones (each a new feature, as the portal does)."""
        rng, products = self.rng, {v: k for k, v in self.ctx.product_ids.items()}
        facts = features.feature_facts().subquery("ff")
        live = self.session.execute(
            select(facts.c.feature_id, facts.c.title, facts.c.product_id, facts.c.area).where(
                facts.c.merged_into_id.is_(None)
            )
        )
        for feature_id, title, product_id, area in list(live):
            board = self.boards[_board_for(products.get(product_id), area)]
            self.ideas.append(Idea(board_id=board.id, feature_id=feature_id, title=title, body=rng.choice(_BODIES)))
        for board_slug, subjects in _SUBJECTS.items():
            product_key = next(b[2] for b in BOARDS if b[0] == board_slug)
            asks = _ASKS if board_slug == "core" else rng.sample(_ASKS, k=5)
            for subject in subjects:
                for ask in asks:
                    title = ask.format(s=subject)
                    title = title[0].upper() + title[1:]
                    body = rng.choice(_BODIES)
                    feature_id = self.new_feature(title, body, product_key)
                    self.ideas.append(
                        Idea(board_id=self.boards[board_slug].id, feature_id=feature_id, title=title, body=body)
                    )
        rng.shuffle(self.ideas)
        for idea in self.ideas:
            idea.author_id = rng.choice(self.pool(idea)).id
            idea.created_at = idea.updated_at = _ago(rng, self.now, 360)
        self.session.add_all(self.ideas)
        self.session.flush()

    def votes_(self) -> None:
        """A few ideas collect most votes (Zipf-like); some voters follow; a few votes were cast by staff."""
        rng = self.rng
        weights = [1 / (rank + 1) ** 0.9 for rank in range(len(self.ideas))]
        scale = VOTES / sum(weights)
        rows: list[dict[str, Any]] = []
        follows: set[tuple[int, int]] = {(i.id, i.author_id) for i in self.ideas if i.author_id}
        for idea, weight in zip(self.ideas, weights, strict=True):
            pool = self.pool(idea)
            k = min(len(pool), max(1, int(weight * scale * rng.uniform(0.7, 1.3))))
            age = (self.now - idea.created_at).total_seconds()
            for user in rng.sample(pool, k=k):
                cast_by = rng.choice(self.staff) if rng.random() < 0.03 else None
                self.proxy += cast_by is not None
                at = idea.created_at + dt.timedelta(seconds=rng.uniform(0, age))
                rows.append({"idea_id": idea.id, "user_id": user.id, "cast_by_id": cast_by, "created_at": at})
                if rng.random() < 0.35:
                    follows.add((idea.id, user.id))
            idea.vote_count = k
        self.session.execute(insert(Vote), rows)
        rows = [{"idea_id": i, "user_id": u, "created_at": self.now} for i, u in sorted(follows)]
        self.session.execute(insert(Follow), rows)
        self.follows = len(follows)

    def comments_(self) -> None:
        """Customers comment on the popular ideas, staff answer some officially; one internal note, one thread."""
        rng, session, ideas = self.rng, self.session, self.ideas
        facts = features.feature_facts().subquery("ff")
        statuses = {row[0]: row[1] for row in session.execute(select(facts.c.feature_id, facts.c.status))}
        kinds = {s.key: s.kind for pid in self.ctx.product_ids.values() for s in features.statuses_for(session, pid)}
        comments: list[Comment] = []
        for rank, idea in enumerate(ideas[:200]):
            for _ in range(max(0, int(14 / (rank + 1) ** 0.4 * rng.uniform(0.5, 1.5)))):
                at = idea.created_at + dt.timedelta(
                    seconds=rng.uniform(0, (self.now - idea.created_at).total_seconds())
                )
                body = rng.choice(_COMMENTS)
                comments.append(
                    Comment(idea_id=idea.id, author_id=rng.choice(self.pool(idea)).id, body=body, created_at=at)
                )
            kind = kinds.get(statuses.get(idea.feature_id, ""), "idea")
            if kind in _OFFICIAL and rank < 60:
                at = self.now - dt.timedelta(days=rng.uniform(0, 20))
                comments.append(
                    Comment(
                        idea_id=idea.id,
                        staff_author_id=rng.choice(self.staff),
                        body=_OFFICIAL[kind],
                        official=True,
                        created_at=at,
                    )
                )
        comments.append(
            Comment(
                idea_id=ideas[0].id,
                staff_author_id=self.staff[0],
                body="Internal: three Enterprise renewals this quarter mention this — keep it near the top.",
                internal=True,
                created_at=self.now - dt.timedelta(days=2),
            )
        )
        session.add_all(comments)
        session.flush()
        first = next(c for c in comments if c.idea_id == ideas[0].id and c.author_id)
        session.add(
            Comment(
                idea_id=ideas[0].id,
                parent_id=first.id,
                author_id=rng.choice(self.users).id,
                body="Same for us — we export everything by hand today.",
                created_at=self.now - dt.timedelta(days=1),
            )
        )
        session.flush()
        counted = Counter(
            row[0]
            for row in session.execute(
                select(Comment.idea_id).where(Comment.internal.is_(False), Comment.state == "published")
            )
        )
        for idea in ideas:
            idea.comment_count = counted.get(idea.id, 0)

    def pending(self) -> None:
        """Waiting for moderation on the Enterprise board: a new idea and a comment."""
        board = self.boards["enterprise"].id
        title = "Provision users from Okta automatically"
        feature_id = self.new_feature(title, "", "core")
        self.session.add(
            Idea(
                board_id=board,
                feature_id=feature_id,
                title=title,
                body="We add and remove 200 people a month; please provision users from Okta.",
                author_id=self.enterprise_users[0].id,
                state="pending",
                created_at=self.now - dt.timedelta(hours=3),
            )
        )
        target = next(i for i in self.ideas if i.board_id == board)
        self.session.add(
            Comment(
                idea_id=target.id,
                author_id=self.enterprise_users[-1].id,
                body="Can we get this before our audit in March?",
                state="pending",
                created_at=self.now - dt.timedelta(hours=1),
            )
        )
        self.session.flush()

    def file(self) -> int:
        """Every idea, vote and customer comment as feedback linked to its feature (the demand model)."""
        votes = list(self.session.scalars(select(Vote).order_by(Vote.id)))
        comments = list(self.session.scalars(select(Comment).where(Comment.idea_id.in_([i.id for i in self.ideas]))))
        self.votes = len(votes)
        self.comments = len(comments)
        return demand.file_all(self.session, ACTOR, self.ideas, votes, comments)


def _create(session: Session, ctx: DemoContext, rng: random.Random) -> dict[str, int]:
    seeder = _Seeder(session, ctx, rng)
    seeder.portal()
    seeder.people()
    seeder.ideas_()
    seeder.votes_()
    seeder.comments_()
    seeder.pending()
    filed = seeder.file()
    return {
        "boards": len(seeder.boards),
        "ideas": len(seeder.ideas) + 1,
        "votes": seeder.votes,
        "proxy": seeder.proxy,
        "comments": seeder.comments,
        "follows": seeder.follows,
        "users": len(seeder.users),
        "filed": filed,
    }


@registry.demo_seeder("portal", order=40)
def seed(session: Session, ctx: DemoContext) -> str:
    if session.scalar(select(Portal.id).where(Portal.slug == SLUG)) is not None:
        ideas = session.scalar(select(Idea.id).limit(1))
        return f"portal /p/{SLUG} already seeded{'' if ideas else ' (no ideas)'}"
    rng = random.Random(SEED)
    with transaction(session):
        made: dict[str, Any] = _create(session, ctx, rng)
    return (
        f"portal /p/{SLUG}: {made['boards']} boards, {made['ideas']:,} ideas, {made['votes']:,} votes "
        f"({made['proxy']} by staff on a customer's behalf) from {made['users']:,} people, {made['comments']:,} "
        f"comments, {made['follows']:,} follows; {made['filed']:,} feedback items filed; 2 posts await moderation"
    )


# --- the changelog: a few published entries announcing shipped demo ideas -------------------------------------

_CHANGELOG_INTROS = [
    "You asked, we built it. **{title}** is live for every workspace today.",
    "Shipping this week: **{title}**. Thanks to everyone who voted and told us how you would use it.",
    "**{title}** has landed. It was one of the most requested ideas on this portal.",
    "A small release with a big ask behind it: **{title}** is now available.",
    "New this month: **{title}**, plus a round of fixes you reported.",
]


@registry.demo_seeder("portal changelog", order=41)
def seed_changelog(session: Session, ctx: DemoContext) -> str:
    """Four published changelog entries on /p/acme, each linked to shipped demo ideas (no e-mail is sent)."""
    from prodops.domains.portal.models import ChangelogEntry, ChangelogIdea
    from prodops.domains.portal.queries import roadmap as roadmap_queries

    portal_id = session.scalar(select(Portal.id).where(Portal.slug == SLUG))
    if portal_id is None:
        return "no demo portal"
    if session.scalar(select(ChangelogEntry.id).where(ChangelogEntry.portal_id == portal_id).limit(1)) is not None:
        return "already seeded"
    shipped = roadmap_queries.shippable_ideas(session, portal_id, limit=12)
    if not shipped:
        return "no shipped ideas to announce"
    rng = random.Random(SEED + 1)
    now = utcnow()
    groups = [shipped[i : i + 3] for i in range(0, min(len(shipped), 12), 3)][:4]
    with transaction(session):
        for n, group in enumerate(groups):
            lead = group[0]
            published = now - dt.timedelta(days=7 + 14 * n, hours=rng.randrange(24))
            others = "".join(f"\n- {idea.title}" for idea in group[1:])
            body = _CHANGELOG_INTROS[n % len(_CHANGELOG_INTROS)].format(title=lead.title)
            if others:
                body += f"\n\nAlso in this release:{others}"
            entry = ChangelogEntry(
                portal_id=portal_id,
                title=f"{lead.title} is here",
                body=body,
                published_at=published,
                created_at=published,
                updated_at=published,
            )
            session.add(entry)
            session.flush()
            session.execute(insert(ChangelogIdea), [{"entry_id": entry.id, "idea_id": idea.id} for idea in group])
    return f"{len(groups)} published entries announcing {sum(len(g) for g in groups)} shipped ideas"
