"""Demo feedback: 20,000 items built from 11,646 real app reviews, from demo people, linked to demo features.

The texts are real (``demo_data/reviews.csv.gz``, see its README); everything around them is generated from
this module's own seed: who said it (people at the demo accounts, bigger accounts more often), through which
channel (app reviews with their star rating, support tickets, sales calls, interviews, e-mail...), when (the
last twelve months, growing, quieter at weekends), and what it was linked to. About 40% of the items are
linked to the feature their text is about, found by keyword (a review about a lost password links to
"Passwordless login links"), with the matching sentence as the highlight and an importance that follows the
review (a bug report in a one-star review is critical). Shipped features get a close-the-loop send log.

Texts are reused with different people to reach 20,000. Seeding is idempotent (external ids ``demo-NNNNN``).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureOut
from prodops.domains.feedback import service
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink, LoopNotice
from prodops.domains.feedback.schemas import FeedbackIn
from prodops.platform import audit, registry
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.demo import DemoContext

SEED = 20_261_124
ITEMS = 20_000
LINK_SHARE = 0.40
CHUNK = 2_000
ACTOR = Actor.system("demo")

SOURCES = [
    ("app_review", 0.45),
    ("support_ticket", 0.22),
    ("email", 0.12),
    ("sales_call", 0.08),
    ("interview", 0.05),
    ("widget", 0.05),
    ("survey", 0.03),
]
# Keyword rules, most specific first: an item links to the first feature whose rule matches its text (and now
# and then to a second). Titles are the features demo's (features/demo.py); a test checks they all exist.
LINK_RULES: list[tuple[str, str]] = [
    (
        "Fix crash on start-up after updating",
        r"crash\w* (on|at|after|when) (start|launch|open|updat)|won'?t (even )?(open|start|launch)|doesn'?t (even )?(open|start|launch)|does not (even )?(open|start|launch)|can'?t (even )?(open|start|launch)|cannot (even )?(open|start|launch)",
    ),
    ("Stop crashes when switching screens", r"crash|force.?clos|keeps? (closing|stopping)|stopped working|has stopped"),
    ("Fix freezes on long lists", r"freez|\bhangs?\b|stuck|not responding|unresponsive"),
    ("Android 5 Lollipop compatibility", r"lollipop|android 5"),
    ("Android 6 runtime permissions", r"marshmallow|android 6"),
    ("Samsung Galaxy device fixes", r"samsung|galaxy"),
    ("Support rooted devices", r"\broot(ed)?\b"),
    ("Handle lost network connections gracefully", r"connection|network|internet|signal"),
    ("Reduce battery drain in the background", r"battery|drain"),
    ("Lower memory usage", r"memory|\bram\b"),
    ("Faster app start", r"\bslow|takes (forever|too long|so long)|\blag"),
    ("Smaller download size", r"\bsize\b|\bmb\b|storage space|too big"),
    ("Keep the screen on while in use", r"screen (off|on|turns|timeout)|stays? on"),
    ("Notification grouping", r"too many notifications|spam"),
    ("Quiet hours", r"do not disturb|\bdnd\b|quiet|at night|silent"),
    ("Choose the notification sound", r"ringtone|\bsound|vibrat"),
    ("Notification LED colour", r"\bled\b"),
    ("Notification settings per conversation", r"notif"),
    ("Dark mode", r"dark (mode|theme)|night (mode|theme)|black (theme|background)|amoled|\bdark\b"),
    ("Custom themes and accent colours", r"\btheme|colou?rs?\b"),
    ("Adjustable font size", r"\bfonts?\b|text size|bigger text|small text|too small"),
    ("Material design refresh", r"material|\bui\b|interface|\bdesign|layout|looks? (old|outdated|ugly)"),
    ("Alternative app icons", r"\bicons?\b"),
    ("Resizable widgets", r"resiz"),
    ("Home-screen widget", r"widget"),
    ("Lock-screen shortcuts", r"lock ?screen|unlock"),
    ("Wallpaper rotation schedule", r"wallpaper.{0,60}(change|rotat|interval|every|shuffle|random)"),
    ("Use your own photos as wallpaper", r"wallpaper"),
    ("Always-on display support", r"always.on|acdisplay|ambient"),
    ("Group conversations", r"group (chat|message|conversation|text)|\bgroups?\b"),
    ("Read receipts", r"read receipt|\bseen\b|delivery report"),
    ("Picture messages (MMS)", r"\bmms\b|picture message"),
    ("SMS backup", r"\bsms\b|text messages?"),
    ("Scheduled messages", r"schedul"),
    ("Voice and video calls", r"video call|\bcalls?\b|\bcalling\b"),
    ("Emoji and stickers", r"emoji|sticker|\bgifs?\b|smiley"),
    ("End-to-end encrypted messages", r"encrypt|signal protocol|\botr\b"),
    ("Message search", r"search.{0,30}(message|chat|conversation)|find.{0,30}(message|chat|conversation)"),
    ("Photo editing basics", r"\bcrop|rotate|edit (photo|picture|image)"),
    ("Gallery picker for photos", r"photo|picture|gallery|\bimages?\b"),
    ("In-app video playback", r"\bvideos?\b|youtube"),
    ("Camera upload", r"camera"),
    ("Scrobbling to Last.fm", r"scrobbl|last\.?fm"),
    ("Podcast episode downloads", r"podcast|episode"),
    ("Playback speed control", r"playback speed|\bspeed\b"),
    ("Chromecast support", r"chromecast|\bcast\b"),
    ("Music player controls", r"music|\bsongs?\b|playlist|player"),
    ("Offline mode", r"offline|without (internet|connection|wi-?fi|data)|no (internet|connection)"),
    ("Sync across devices", r"\bsync|across devices|other devices?|multiple devices"),
    ("Cloud backup and restore", r"backup|back up|restore|\blost (all )?my"),
    ("Google Drive and Dropbox integration", r"google drive|dropbox|\bcloud\b|onedrive"),
    ("Download only on Wi-Fi", r"wi-?fi|mobile data|data usage|\b3g\b|\b4g\b"),
    ("Zip and archive support", r"\bzip|\brar\b|archive|extract"),
    ("SD card access", r"sd ?card|external storage|internal storage"),
    ("Bookmarks for folders", r"bookmark"),
    ("Copy and move files between folders", r"\bfiles?\b|folders?|directory"),
    ("Share to and open with other apps", r"\bshar(e|ing)|open with|send to"),
    ("Syntax highlighting in the editor", r"syntax|highlight|text editor|\beditor"),
    ("Screen reader support", r"talkback|blind|screen reader|accessib|visually"),
    ("High-contrast mode", r"contrast|hard to read|hard to see"),
    ("Left-handed layout", r"left.hand"),
    ("In-app tutorial", r"tutorial|how to use|confus|instructions|how do i|can'?t figure|hard to use|not intuitive"),
    ("Simpler sign-up", r"sign ?up|register|registration|verification code|verify"),
    ("Remove ads with a one-time purchase", r"\bads?\b|advert|ad.free"),
    ("Family plan", r"family|my (wife|husband|kids)"),
    ("Free trial of Pro features", r"trial"),
    (
        "Lower price for the Pro version",
        r"price|\bcost|expensive|\bpay\b|paid|purchase|premium|\bpro version|money|refund",
    ),
    ("App lock with PIN or fingerprint", r"fingerprint|\bpin\b|passcode|app lock"),
    ("Ask for fewer permissions", r"permission"),
    ("Hide message previews", r"preview"),
    ("Private mode without tracking", r"privacy|private|tracking|\btrack(s|ed|er)?\b|spy"),
    ("Right-to-left layouts", r"right.to.left|\brtl\b|arabic|hebrew|persian|urdu"),
    ("More languages", r"language|translat|spanish|german|russian|french|portuguese|italian|hindi|chinese"),
    ("Recent searches", r"search history|recent search"),
    ("Better search in the app", r"search"),
    ("Keyboard shortcuts on tablets", r"keyboard|shortcut|tablet|landscape"),
    ("SSH key authentication", r"\bssh|\bkeys?\b|server"),
    ("Save progress across devices", r"progress|save (my )?(game|data)|saved game|\bsaves?\b"),
    ("Reminders", r"remind|alarm"),
    ("Flashcard-style review mode", r"flashcard|\bcards?\b|\bdecks?\b|\bstudy"),
    ("Undo for accidental deletes", r"\bundo|accidental|by mistake"),
    ("Clipboard history", r"clipboard|copy|paste"),
    ("Calendar view", r"calendar|\bdates?\b"),
    ("Single sign-on with SAML", r"\bsso\b|saml|single sign"),
    ("Sign in with Google", r"google (account|sign|login|log in)|sign in with google|google\+"),
    ("Two-factor authentication", r"two.factor|2fa|two.step|authenticator"),
    ("Passwordless login links", r"password"),
    ("Stay signed in on trusted devices", r"log(ged|s)? ?(me )?out|sign(ed|s)? ?(me )?out|keeps? asking"),
    ("Fix account lock-outs", r"\baccount|log ?in|login|sign ?in"),
    ("E-mail digest of activity", r"emails?\b|e-mails?\b"),
    ("Slack notifications", r"slack"),
    ("Export reports to PDF", r"\bpdf|print"),
    ("Custom dashboards", r"dashboard|\bcharts?\b|\bgraphs?\b"),
    ("Statistics over time", r"statistic|\bstats\b|history|report"),
    ("Expense categories in reports", r"expense|budget|categor|spending"),
    ("Multi-currency support", r"currenc|dollar|euro"),
    ("Public REST API", r"\bapi\b|developer"),
    ("Zapier integration", r"zapier|ifttt|tasker|automat"),
    ("Two-way calendar sync", r"google calendar|outlook"),
    ("Twitter integration", r"twitter|tweet"),
    ("GitHub integration", r"github|\bgit\b"),
    ("CSV export everywhere", r"\bcsv|export"),
    ("Import from spreadsheets", r"import|excel|spreadsheet"),
    ("Bulk delete", r"delete (all|multiple|many)|select (all|multiple)|\bbulk|batch"),
    ("Role-based permissions", r"\badmin|\broles?\b"),
    ("Custom fields", r"custom(i[sz]e|i[sz]ation|izable)?\b"),
    ("Search suggestions", r"suggest"),
    ("Comments and @mentions", r"comment|mention"),
    ("Markdown formatting in notes", r"markdown|formatting|\bbold\b|\bnotes?\b"),
    ("Templates for new records", r"template"),
    ("Faster page loads", r"\bload(ing|s)?\b"),
    ("Fix sync errors", r"\berrors?\b"),
    ("Annual billing discount", r"annual|yearly|subscription"),
    ("Invoices on the account page", r"invoice|receipt"),
    ("Data retention settings", r"delete my (data|account)|retention|gdpr|my data"),
    ("SOC 2 report and security review pack", r"security|secure|safe\b"),
    ("In-app help and chat", r"support|customer service|help me|contact"),
]


def _branches(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern (``a|(b|c)d`` → ``a``, ``(b|c)d``)."""
    depth, current, found, escaped = 0, "", [], False
    for ch in pattern:
        if escaped or ch == "\\":
            escaped = not escaped and ch == "\\"
            current += ch
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "|" and depth == 0:
            found.append(current)
            current = ""
        else:
            current += ch
    return [*found, current]


def triggers(pattern: str) -> tuple[str, ...] | None:
    """Plain substrings one of which every match must contain (each alternative's literal start), or None.

    Checking them with ``in`` first skips most regex searches: seeding matches 11,646 texts against 117 rules."""
    literals = []
    for alternative in _branches(pattern):
        branch = alternative.removeprefix("\\b")
        start = re.match(r"[a-z0-9 ',-]+", branch)
        if start is None:
            return None
        literal = start.group()
        if branch[len(literal) : len(literal) + 1] in ("?", "*", "{"):
            literal = literal[:-1]  # the last character is optional
        if len(literal) < 2:
            return None
        literals.append(literal)
    return tuple(literals)


# Patterns are lower-case and texts are lowered once: faster than re.IGNORECASE.
_RULES = [(title, re.compile(pattern), triggers(pattern)) for title, pattern in LINK_RULES]
# How likely a matching item is linked, by what the review is: bug reports and requests get triaged first.
LINK_CHANCE = {"bug": 0.72, "feature_request": 0.8, "experience": 0.42, "praise": 0.18}
RATING_CHANCE = {1: 0.72, 2: 0.68, 3: 0.6, 4: 0.45, 5: 0.3}
SENTENCE = re.compile(r"[^.!?]+[.!?]*")


@dataclass(frozen=True)
class Review:
    origin: str
    app: str
    rating: int | None
    label: str
    topics: list[str]
    text: str


def load_reviews() -> list[Review]:
    """The packaged review texts (no absolute paths: read from the installed package)."""
    raw = resources.files("prodops.domains.feedback").joinpath("demo_data", "reviews.csv.gz").read_bytes()
    reader = csv.DictReader(io.StringIO(gzip.decompress(raw).decode("utf-8")))
    return [
        Review(
            origin=row["origin"],
            app=row["app"],
            rating=int(row["rating"]) if row["rating"] else None,
            label=row["label"],
            topics=[t for t in row["topics"].split(";") if t],
            text=row["text"],
        )
        for row in reader
    ]


def matches(text: str) -> list[tuple[str, re.Match[str]]]:
    """The features a text is about, most specific first (each feature once); match positions index ``text``."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters change length when lowered; positions must stay valid
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    found = []
    for title, pattern, literals in _RULES:
        if literals is not None and not any(literal in lowered for literal in literals):
            continue
        match = pattern.search(lowered)
        if match:
            found.append((title, match))
    return found


def _sentence_around(text: str, match: re.Match[str]) -> tuple[int, int] | None:
    """The sentence holding the match, as the link's highlight (None when it is the whole text)."""
    for sentence in SENTENCE.finditer(text):
        if sentence.start() <= match.start() < sentence.end():
            start = sentence.start() + (len(sentence.group()) - len(sentence.group().lstrip()))
            end = sentence.end()
            if end - start >= len(text) - 2 or end - start < 8:
                return None
            return start, end
    return None


def _rating(review: Review, rng: random.Random) -> int:
    if review.rating:
        return review.rating
    return {
        "bug": rng.choice([1, 1, 2, 2, 3]),
        "feature_request": rng.choice([3, 3, 4, 4, 5]),
        "praise": rng.choice([4, 5, 5, 5]),
    }.get(review.label, rng.choice([2, 3, 4, 5]))


def _importance(review: Review, rating: int, rng: random.Random) -> str:
    lowered = review.text.lower()
    severe = any(w in lowered for w in ("crash", "lost", "can't", "cannot", "unusable", "useless", "not working"))
    if rating <= 1 and severe:
        return "critical"
    if review.label == "bug" or rating <= 2:
        return rng.choices(["important", "critical", "nice"], weights=[0.6, 0.25, 0.15])[0]
    if review.label == "feature_request":
        return rng.choices(["nice", "important", "critical"], weights=[0.55, 0.38, 0.07])[0]
    return rng.choices(["nice", "important", "not"], weights=[0.75, 0.15, 0.1])[0]


def _received(rng: random.Random, now: dt.datetime) -> dt.datetime:
    """Over the last 12 months, growing (density rises linearly), fewer at weekends."""
    while True:
        days_ago = 365 * (1 - math.sqrt(rng.random()))
        at = now - dt.timedelta(days=days_ago, minutes=rng.randint(0, 600))
        if at.weekday() < 5 or rng.random() < 0.35:
            return at.replace(microsecond=0)


def _title(source: str, text: str, account: str, person: str) -> str:
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    short = first if len(first) <= 70 else first[:67].rsplit(" ", 1)[0] + "…"
    return {
        "support_ticket": short,
        "email": f"Re: {short}",
        "sales_call": f"Call notes: {account}" if account else "Call notes",
        "interview": f"Customer interview with {person}" if person else "Customer interview",
        "survey": "Survey comment",
    }.get(source, "")


@dataclass
class Plan:
    """What will be seeded: the items (as API inputs) and, by position, their links."""

    items: list[FeedbackIn]
    links: list[list[tuple[str, str, tuple[int, int] | None]]]


def _people(session: Session) -> tuple[list[tuple[int, int | None, str, str]], dict[int, float]]:
    facts = session.execute(customers.account_facts()).all()
    arr = {row.account_id: float(row.arr or 0) for row in facts}
    names = {row.account_id: row.name for row in facts}
    people = [
        (pid, aid, email, names.get(aid, "") if aid is not None else "")
        for pid, email, aid in session.execute(customers.person_accounts().order_by("person_id"))
    ]
    return people, arr


def plan(
    reviews: list[Review],
    people: list[tuple[int, int | None, str, str]],
    arr: dict[int, float],
    feature_products: dict[str, tuple[int | None, str | None]],
    product_ids: dict[str, int],
    user_ids: list[int],
    now: dt.datetime,
    count: int = ITEMS,
) -> Plan:
    """The demo items and links, deterministic for the same inputs."""
    rng = random.Random(SEED)
    by_account: dict[int | None, list[tuple[int, int | None, str, str]]] = {}
    for known in people:
        by_account.setdefault(known[1], []).append(known)
    accounts = [a for a in by_account if a is not None]
    # Bigger customers say more: weight accounts by the square root of their ARR.
    weights = [math.sqrt(arr.get(a, 0.0) + 2_000) for a in accounts]
    order = list(range(len(reviews)))
    rng.shuffle(order)
    picks = order + [rng.randrange(len(reviews)) for _ in range(max(0, count - len(order)))]
    items: list[FeedbackIn] = []
    links: list[list[tuple[str, str, tuple[int, int] | None]]] = []
    matched: dict[int, list[tuple[str, re.Match[str]]]] = {}
    for n, index in enumerate(picks[:count]):
        review = reviews[index]
        source = rng.choices([s for s, _ in SOURCES], weights=[w for _, w in SOURCES])[0]
        rating = _rating(review, rng)
        person: tuple[int, int | None, str, str] | None = None
        if accounts and (source != "app_review" or rng.random() < 0.85):
            account = rng.choices(accounts, weights=weights)[0]
            person = rng.choice(by_account[account])
        if index not in matched:
            matched[index] = [(t, m) for t, m in matches(review.text) if t in feature_products]
        found = matched[index]
        chance = LINK_CHANCE.get(review.label) if review.label else RATING_CHANCE.get(rating, 0.5)
        linked: list[tuple[str, str, tuple[int, int] | None]] = []
        if found and rng.random() < min(1.0, (chance or 0.5) * 1.15):
            for title, match in found[: 2 if rng.random() < 0.2 else 1]:
                linked.append((title, _importance(review, rating, rng), _sentence_around(review.text, match)))
        product_id, area = feature_products[linked[0][0]] if linked else (None, None)
        if product_id is None:
            product_id = product_ids.get("mobile" if source == "app_review" or rng.random() < 0.5 else "core")
        received = _received(rng, now)
        if linked:
            status = "linked"
        elif (now - received).days < 21:
            status = rng.choices(["new", "triaged"], weights=[0.8, 0.2])[0]
        else:
            status = rng.choices(["new", "triaged", "archived"], weights=[0.25, 0.45, 0.3])[0]
        tags = list(review.topics[:3])
        if review.label == "bug":
            tags.append("bug")
        elif review.label == "feature_request":
            tags.append("feature request")
        meta: dict[str, Any] = {}
        if source == "app_review":
            meta = {"rating": rating, "store": "Google Play"}
            if review.app:
                meta["app"] = review.app
        elif source == "survey":
            meta = {"score": max(0, min(10, rating * 2 + rng.randint(-1, 0)))}
        items.append(
            FeedbackIn(
                text=review.text,
                title=_title(
                    source, review.text, person[3] if person else "", person[2].split("@")[0] if person else ""
                ),
                source=source,
                external_id=f"demo-{n + 1:05d}",
                person_id=person[0] if person else None,
                product_id=product_id,
                area=area,
                tags=tags,
                received_at=received,
                status=status,
                assignee_id=rng.choice(user_ids) if user_ids and status == "triaged" and rng.random() < 0.6 else None,
                meta=meta,
            )
        )
        links.append(linked)
    return Plan(items, links)


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _already_seeded(session: Session) -> int:
    stmt = select(func.count()).select_from(FeedbackItem).where(FeedbackItem.external_id.like("demo-%"))
    return session.scalar(stmt) or 0


def _feature_products(session: Session) -> tuple[dict[str, int], dict[str, tuple[int | None, str | None]]]:
    ids: dict[str, int] = {}
    where: dict[str, tuple[int | None, str | None]] = {}
    page = 1
    while True:
        batch = features.list_features(session, page=page, per_page=500)
        for f in batch.items:
            ids[f.title] = f.id
            where[f.title] = (f.product_id, f.area)
        if not batch.has_next:
            return ids, where
        page += 1


def _insert_links(
    session: Session, item_ids: list[int], plan_: Plan, feature_ids: dict[str, int], created: dt.datetime
) -> int:
    """The links of the seeded items in bulk (a demo is not 8,000 people clicking "link"), one audit record."""
    rows = []
    for item_id, data, links in zip(item_ids, plan_.items, plan_.links, strict=True):
        for title, importance, span in links:
            start, end = span if span else (None, None)
            rows.append(
                {
                    "item_id": item_id,
                    "feature_id": feature_ids[title],
                    "importance": importance,
                    "highlight": data.text[start:end] if span else "",
                    "highlight_start": start,
                    "highlight_end": end,
                    "created_at": min(created, (data.received_at or created) + dt.timedelta(hours=20)),
                }
            )
    with transaction(session):
        for chunk in _chunks(rows, 1_000):
            session.execute(insert(FeedbackLink), chunk)
        audit.record(
            session,
            ACTOR,
            entity_type="feedback",
            entity_id="*",
            action="seed",
            changes={"links": [0, len(rows)]},
            entity_label="demo links to features",
        )
    return len(rows)


def _loop_log(session: Session, rng: random.Random) -> int:
    """A send log for the shipped features, as if their requesters had been told when they shipped."""
    shipped = [f for f in _live_features(session) if f.status_kind == "shipped"]
    rows = []
    for feature in shipped:
        person_ids = service.requesters(session, feature.id)
        people = customers.people_by_id(session, person_ids)
        for person_id in person_ids:
            person = people.get(person_id)
            if person is None:
                continue
            outcome = rng.choices(["sent", "unsubscribed", "failed"], weights=[0.94, 0.04, 0.02])[0]
            at = feature.status_changed_at + dt.timedelta(minutes=rng.randint(1, 30))
            rows.append(
                {
                    "feature_id": feature.id,
                    "status": feature.status,
                    "person_id": person_id,
                    "email": person.email,
                    "outcome": outcome,
                    "error": "550 5.1.1 mailbox unavailable" if outcome == "failed" else "",
                    "created_at": at,
                    "sent_at": at if outcome == "sent" else None,
                }
            )
    with transaction(session):
        for chunk in _chunks(rows, 1_000):
            session.execute(insert(LoopNotice), chunk)
    return len(rows)


def _live_features(session: Session) -> list[FeatureOut]:
    found: list[FeatureOut] = []
    page = 1
    while True:
        batch = features.list_features(session, page=page, per_page=500)
        found.extend(batch.items)
        if not batch.has_next:
            return found
        page += 1


@registry.demo_seeder("feedback", order=30)
def seed(session: Session, ctx: DemoContext) -> str:
    existing = _already_seeded(session)
    if existing:
        return f"{existing:,} items (0 new)"
    rng = random.Random(SEED + 1)
    feature_ids, feature_products = _feature_products(session)
    people, arr = _people(session)
    now = utcnow()
    plan_ = plan(load_reviews(), people, arr, feature_products, ctx.product_ids, ctx.user_ids[1:], now)
    item_ids: list[int] = []
    for chunk in _chunks(plan_.items, CHUNK):
        item_ids.extend(service.ingest_many(session, ACTOR, chunk).ids)
    links = _insert_links(session, item_ids, plan_, feature_ids, now)
    notices = _loop_log(session, rng)
    linked = sum(1 for ls in plan_.links if ls)
    return (
        f"{len(item_ids):,} items ({len(item_ids):,} new, {linked:,} linked to features by {links:,} links), "
        f"{notices:,} close-the-loop e-mails logged"
    )
