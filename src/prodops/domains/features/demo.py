"""Demo features: about 150 believable features and ideas across the two demo products.

Each has an area, an owner, a team, tags and a status drawn from a realistic mix (many ideas, fewer shipped),
shipped ones carry a release note, a few duplicates are merged into their survivor, and some people vote for
and follow them. Generated from this module's own seed; seeding twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.features import service
from prodops.domains.features.models import Feature
from prodops.domains.features.schemas import FeatureIn
from prodops.platform import registry
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.demo import DemoContext

SEED = 20_261_123
ACTOR = Actor.system("demo")

# One feature per line: product | area | team | title | tags | description. Titles are what the feedback demo
# links reviews to (feedback/demo.py).
_CATALOGUE_TEXT = """
# Acme Mobile
mobile | Stability | mobile | Fix crash on start-up after updating | bug,android | Some devices crash on the first launch after an update until the app data is cleared.
mobile | Stability | mobile | Stop crashes when switching screens | bug,android | Random crashes while moving between screens, reported across many devices.
mobile | Stability | mobile | Fix freezes on long lists | bug,performance | The app stops responding for seconds when scrolling long lists.
mobile | Stability | mobile | Android 5 Lollipop compatibility | android | Layout and notification issues on Android 5.x.
mobile | Stability | mobile | Android 6 runtime permissions | android,privacy | Ask for permissions when they are needed, as Android 6 expects.
mobile | Stability | mobile | Samsung Galaxy device fixes | android,devices | Samsung-specific rendering and background-kill problems.
mobile | Stability | mobile | Support rooted devices | android,devices | Keep working on rooted phones and custom ROMs.
mobile | Stability | mobile | Handle lost network connections gracefully | bug,network | Retry and explain instead of failing silently when the connection drops.
mobile | Battery & performance | mobile | Reduce battery drain in the background | performance,battery | Background sync keeps the radio awake; batch work and respect Doze.
mobile | Battery & performance | mobile | Lower memory usage | performance | Cut memory use on devices with 1–2 GB of RAM.
mobile | Battery & performance | mobile | Faster app start | performance | Cold start takes several seconds on mid-range phones.
mobile | Battery & performance | mobile | Smaller download size | performance | Split the APK and drop unused resources.
mobile | Battery & performance | mobile | Keep the screen on while in use |  | An option to stop the screen from dimming.
mobile | Notifications | mobile | Notification settings per conversation | notifications | Mute, sound and vibration per conversation and per project.
mobile | Notifications | mobile | Quiet hours | notifications | No notifications at night or during meetings, with exceptions.
mobile | Notifications | mobile | Choose the notification sound | notifications | Pick a ringtone and vibration pattern.
mobile | Notifications | mobile | Notification LED colour | notifications,android | Let people choose the LED colour where phones have one.
mobile | Notifications | mobile | Notification grouping | notifications | Bundle notifications from the same conversation.
mobile | Notifications | mobile | Actionable notifications | notifications | Reply, archive or snooze straight from the notification.
mobile | Appearance | mobile | Dark mode | design,accessibility | A dark theme that follows the system setting.
mobile | Appearance | mobile | Dark theme for the mobile app | design | Duplicate request for a dark theme.
mobile | Appearance | mobile | Custom themes and accent colours | design | Choose the accent colour and a few curated themes.
mobile | Appearance | mobile | Adjustable font size | accessibility,design | Larger and smaller text than the system default.
mobile | Appearance | mobile | Material design refresh | design | Bring the interface in line with Material Design.
mobile | Appearance | mobile | Alternative app icons | design | A few icon styles to choose from.
mobile | Appearance | mobile | Compact list density | design | Show more rows per screen.
mobile | Widgets & lock screen | mobile | Home-screen widget | widgets | Today's items and quick actions on the home screen.
mobile | Widgets & lock screen | mobile | Resizable widgets | widgets | Widgets that adapt to their size.
mobile | Widgets & lock screen | mobile | Lock-screen shortcuts | widgets,lock screen | Open common actions from the lock screen.
mobile | Widgets & lock screen | mobile | Use your own photos as wallpaper | wallpaper | Pick photos from the gallery as a live wallpaper.
mobile | Widgets & lock screen | mobile | Wallpaper rotation schedule | wallpaper | Change the wallpaper every hour, day or on unlock.
mobile | Widgets & lock screen | mobile | Always-on display support | lock screen | Show key information on always-on displays.
mobile | Messaging | mobile | Group conversations | messaging | Conversations with several people and named groups.
mobile | Messaging | mobile | Read receipts | messaging | See when a message was read, with an option to turn it off.
mobile | Messaging | mobile | Picture messages (MMS) | messaging,media | Send and receive pictures over MMS reliably.
mobile | Messaging | mobile | SMS backup | messaging,backup | Back up text messages and restore them on a new phone.
mobile | Messaging | mobile | Scheduled messages | messaging | Write now, send later.
mobile | Messaging | mobile | Voice and video calls | messaging,calls | Calls from inside a conversation.
mobile | Messaging | mobile | Emoji and stickers | messaging | An emoji picker and sticker packs.
mobile | Messaging | mobile | End-to-end encrypted messages | messaging,security | Encrypt conversations so that only the participants can read them.
mobile | Messaging | mobile | Message search | messaging,search | Find a message by word, person or date.
mobile | Media | mobile | Gallery picker for photos | media | Attach several photos at once from the gallery.
mobile | Media | mobile | In-app video playback | media | Play videos without leaving the app.
mobile | Media | mobile | Photo editing basics | media | Crop, rotate and adjust a photo before sending it.
mobile | Media | mobile | Camera upload | media | Upload new photos automatically.
mobile | Media | mobile | Music player controls | media,audio | Play, pause and skip from the notification and the lock screen.
mobile | Media | mobile | Podcast episode downloads | audio | Download episodes for listening offline.
mobile | Media | mobile | Playback speed control | audio | Listen at 0.5×–3× without chipmunk voices.
mobile | Media | mobile | Chromecast support | audio,media | Cast audio and video to a TV or speaker.
mobile | Media | mobile | Scrobbling to Last.fm | audio,integrations | Record what was played on Last.fm.
mobile | Offline & sync | mobile | Offline mode | offline | Read and edit without a connection; sync when back online.
mobile | Offline & sync | mobile | Sync across devices | sync | The same data on phone, tablet and web within seconds.
mobile | Offline & sync | mobile | Cloud backup and restore | backup | Automatic backups and a one-tap restore.
mobile | Offline & sync | mobile | Google Drive and Dropbox integration | integrations,backup | Open, save and back up to cloud storage.
mobile | Offline & sync | mobile | Download only on Wi-Fi | offline,network | Save mobile data by downloading on Wi-Fi only.
mobile | Files | mobile | Copy and move files between folders | files | Multi-select, copy, cut and paste files.
mobile | Files | mobile | Zip and archive support | files | Open and create zip archives.
mobile | Files | mobile | SD card access | files,android | Read and write files on the SD card.
mobile | Files | mobile | Share to and open with other apps | files,integrations | Appear in the share sheet; open attachments in other apps.
mobile | Files | mobile | Syntax highlighting in the editor | editor | Colour code and configuration files.
mobile | Files | mobile | Bookmarks for folders | files | Pin frequently used folders.
mobile | Accessibility | mobile | Screen reader support | accessibility | Labels and focus order for TalkBack.
mobile | Accessibility | mobile | High-contrast mode | accessibility,design | Stronger contrast for low vision.
mobile | Accessibility | mobile | Left-handed layout | accessibility | Mirror the main controls.
mobile | Onboarding | mobile | In-app tutorial | onboarding | A short walkthrough of the main screens on first start.
mobile | Onboarding | mobile | Simpler sign-up | onboarding | Sign up with fewer steps and no confirmation loop.
mobile | Onboarding | mobile | Import settings from the old app | onboarding | Move settings from version 1 automatically.
mobile | Pricing | growth | Remove ads with a one-time purchase | pricing,ads | Pay once to remove ads for good.
mobile | Pricing | growth | Family plan | pricing | One subscription for up to six people.
mobile | Pricing | growth | Lower price for the Pro version | pricing | Regional pricing and a cheaper Pro tier.
mobile | Pricing | growth | Free trial of Pro features | pricing | Try Pro for 14 days.
mobile | Privacy & security | mobile | App lock with PIN or fingerprint | security | Lock the app behind a PIN or the fingerprint sensor.
mobile | Privacy & security | mobile | Ask for fewer permissions | privacy,android | Drop permissions the app does not need.
mobile | Privacy & security | mobile | Private mode without tracking | privacy | No analytics, no history, nothing kept.
mobile | Privacy & security | mobile | Hide message previews | privacy,notifications | Keep message content out of notifications.
mobile | Localisation | mobile | More languages | localisation | Translations for the ten most requested languages.
mobile | Localisation | mobile | Right-to-left layouts | localisation | Arabic and Hebrew layouts.
mobile | Search | mobile | Better search in the app | search | Search that forgives typos and finds partial words.
mobile | Search | mobile | Recent searches | search | Show and clear recent searches.
mobile | Productivity | mobile | Keyboard shortcuts on tablets | productivity | Shortcuts for hardware keyboards.
mobile | Productivity | mobile | SSH key authentication | security,integrations | Log in to servers with keys instead of passwords.
mobile | Productivity | mobile | Save progress across devices | sync | Continue where you stopped on another device.
mobile | Productivity | mobile | Reminders | productivity,notifications | Remind me about an item at a time or place.
mobile | Productivity | mobile | Flashcard-style review mode | productivity | Review items in spaced repetition.
mobile | Productivity | mobile | Landscape and tablet layout | design,devices | Two-pane layouts on tablets and in landscape.
mobile | Productivity | mobile | Undo for accidental deletes | productivity | Undo the last delete for a few seconds.
mobile | Productivity | mobile | Clipboard history | productivity | Keep the last copied snippets.
mobile | Productivity | mobile | Calendar view | productivity | See items on a month and week calendar.
# Acme Core
core | Authentication | platform | Single sign-on with SAML | security,enterprise | SAML 2.0 SSO with Okta, Azure AD and Google Workspace.
core | Authentication | platform | Sign in with Google | security | One-click sign-in with a Google account.
core | Authentication | platform | Two-factor authentication | security | TOTP apps and security keys.
core | Authentication | platform | Passwordless login links | security | Sign in with a link sent by e-mail.
core | Authentication | platform | Stay signed in on trusted devices | security | Fewer forced sign-outs on trusted devices.
core | Authentication | platform | Fix account lock-outs | bug,security | People get locked out after password changes.
core | Authentication | platform | SCIM user provisioning | enterprise,security | Create and deactivate users from the identity provider.
core | Notifications | growth | E-mail digest of activity | notifications,email | A daily or weekly summary instead of one e-mail per change.
core | Notifications | growth | Slack notifications | integrations,notifications | Post updates to a Slack channel.
core | Notifications | growth | Notification preferences page | notifications | One page to choose what to hear about.
core | Notifications | growth | Microsoft Teams notifications | integrations,notifications | Post updates to a Teams channel.
core | Reporting | insights | Export reports to PDF | reporting,export | Print-quality PDFs of any report.
core | Reporting | insights | Scheduled report e-mails | reporting,email | Send a report every Monday at 9.
core | Reporting | insights | Custom dashboards | reporting | Build dashboards from saved charts.
core | Reporting | insights | Expense categories in reports | reporting,finance | Group spending by category and budget.
core | Reporting | insights | Multi-currency support | finance | Amounts in several currencies with daily rates.
core | Reporting | insights | Statistics over time | reporting | Trends by week and month for every metric.
core | Reporting | insights | Funnel reports | reporting | Conversion between steps, over time.
core | Reporting | insights | Drill-down from charts | reporting | Click a bar to see the rows behind it.
core | Integrations | platform | Public REST API | integrations,api | A documented, versioned API for everything in the UI.
core | Integrations | platform | Zapier integration | integrations | Triggers and actions on Zapier.
core | Integrations | platform | Two-way calendar sync | integrations | Google and Outlook calendars in both directions.
core | Integrations | platform | Twitter integration | integrations,social | Capture mentions and post updates.
core | Integrations | platform | GitHub integration | integrations,developers | Link issues and pull requests.
core | Integrations | platform | Webhooks for every event | integrations,api | Subscribe to any change.
core | Integrations | platform | Salesforce sync | integrations,enterprise | Accounts and opportunities from Salesforce.
core | Integrations | platform | HubSpot sync | integrations | Contacts and companies from HubSpot.
core | Integrations | platform | Jira integration | integrations,developers | Create and follow Jira issues.
core | Data import & export | platform | CSV export everywhere | export | Export any list as CSV.
core | Data import & export | platform | Import from spreadsheets | import | Import Excel and Google Sheets with column mapping.
core | Data import & export | platform | Bulk delete | productivity | Select many rows and delete them at once.
core | Data import & export | platform | Full account data export | export,privacy | Download everything as a zip.
core | Administration | platform | Role-based permissions | enterprise,security | Custom roles with fine-grained permissions.
core | Administration | platform | Audit log export | enterprise,security | Stream the audit log to a SIEM.
core | Administration | platform | Custom fields | customisation | Add your own fields to records.
core | Administration | platform | Multiple workspaces | enterprise | Separate workspaces per business unit.
core | Administration | platform | Session timeout settings | security,enterprise | Admins choose how long sessions last.
core | Administration | platform | Usage analytics for admins | enterprise,reporting | Who uses what, per team.
core | Search | insights | Search filters and saved searches | search | Filter search results and save the query.
core | Search | insights | Search suggestions | search | Suggest as you type.
core | Search | insights | Search inside attachments | search,files | Find words inside PDFs and documents.
core | Collaboration | growth | Comments and @mentions | collaboration | Discuss records in place and mention teammates.
core | Collaboration | growth | View-only share links | collaboration,sharing | Share a page with people outside the team.
core | Collaboration | growth | Real-time co-editing | collaboration | See each other's changes live.
core | Collaboration | growth | Team spaces | collaboration | Group work by team, each with its own members.
core | Collaboration | growth | Guest accounts | collaboration,pricing | Free read-only seats for contractors.
core | Editor | growth | Markdown formatting in notes | editor | Bold, lists, links and code in notes.
core | Editor | growth | Better copy and paste | editor | Keep formatting when pasting from other tools.
core | Editor | growth | Templates for new records | editor,productivity | Start from a saved template.
core | Performance | platform | Faster page loads | performance | Large workspaces load in under a second.
core | Performance | platform | Fix sync errors | bug,sync | Intermittent 'sync failed' errors.
core | Performance | platform | Offline support in the web app | offline | Keep working when the connection drops.
core | Billing | growth | Annual billing discount | pricing,billing | Two months free on yearly plans.
core | Billing | growth | Invoices on the account page | billing | Download past invoices.
core | Billing | growth | Pay by bank transfer | billing,enterprise | Invoice billing for larger customers.
core | Billing | growth | Usage-based pricing | pricing | Pay for what you use.
core | Privacy & security | platform | Data retention settings | privacy,compliance | Delete data older than a chosen age.
core | Privacy & security | platform | IP allow-list | security,enterprise | Restrict sign-in to office networks.
core | Privacy & security | platform | SOC 2 report and security review pack | security,compliance | Everything a security review asks for.
core | Privacy & security | platform | EU data residency | privacy,compliance,enterprise | Keep data in the EU.
core | Support | support | In-app help and chat | support | Ask for help without leaving the app.
core | Support | support | Status page | support | Public uptime and incident history.
"""
CATALOGUE: list[tuple[str, str, str, str, str, str]] = [
    (product, area, team, title, tags, description)
    for product, area, team, title, tags, description in (
        tuple(part.strip() for part in line.split("|"))
        for line in _CATALOGUE_TEXT.strip().splitlines()
        if line.strip() and not line.startswith("#")
    )
]

# A realistic mix: a long tail of ideas, fewer planned, a handful shipped or declined.
STATUS_MIX = [
    ("idea", 0.34),
    ("under_consideration", 0.20),
    ("planned", 0.15),
    ("in_progress", 0.10),
    ("shipped", 0.15),
    ("declined", 0.06),
]
# Pinned where a story needs it (the dark-mode duplicate is merged; offline mode is under way).
PINNED = {
    "Dark mode": "shipped",
    "Offline mode": "in_progress",
    "Single sign-on with SAML": "planned",
    "Reduce battery drain in the background": "shipped",
    "Export reports to PDF": "shipped",
    "Home-screen widget": "shipped",
    "Sync across devices": "planned",
    "Remove ads with a one-time purchase": "under_consideration",
}
# (duplicate, survivor)
MERGES = [
    ("Dark theme for the mobile app", "Dark mode"),
    ("Landscape and tablet layout", "Keyboard shortcuts on tablets"),
    ("Offline support in the web app", "Offline mode"),
]
RELEASE_NOTE = """**{title}** is now available in {product}.

{description}

- Turn it on under *Settings → {area}*.
- Thank you to everyone who asked for it: your feedback shaped how it works.
"""


def _status(rng: random.Random, title: str) -> str:
    if title in PINNED:
        return PINNED[title]
    return rng.choices([s for s, _ in STATUS_MIX], weights=[w for _, w in STATUS_MIX])[0]


def generate(product_ids: dict[str, int], team_ids: dict[str, int], owner_ids: list[int]) -> list[dict[str, Any]]:
    """The demo features as plain values (deterministic for the same products, teams and owners)."""
    rng = random.Random(SEED)
    names = {"core": "Acme Core", "mobile": "Acme Mobile"}
    rows = []
    for product, area, team, title, tags, description in CATALOGUE:
        status = _status(rng, title)
        rows.append(
            {
                "title": title,
                "description": description,
                "product_id": product_ids.get(product),
                "area": area,
                "team_id": team_ids.get(team),
                "owner_id": rng.choice(owner_ids) if owner_ids and rng.random() < 0.85 else None,
                "tags": [t for t in tags.split(",") if t],
                "status": status,
                "release_note": RELEASE_NOTE.format(
                    title=title, product=names[product], description=description, area=area
                )
                if status == "shipped"
                else "",
                "age_days": rng.randint(30, 540),
                "changed_days": rng.randint(3, 200),
            }
        )
    return rows


def _existing_titles(session: Session) -> dict[str, int]:
    found: dict[str, int] = {}
    page = 1
    while True:
        batch = service.list_features(session, include_merged=True, page=page, per_page=500)
        found.update({f.title: f.id for f in batch.items})
        if not batch.has_next:
            return found
        page += 1


def _backdate(session: Session, ids: dict[str, int], rows: list[dict[str, Any]]) -> None:
    """Spread creation and status-change dates over the past (a catalogue does not appear in one second)."""
    now = utcnow()
    with transaction(session):
        for row in rows:
            created = now - dt.timedelta(days=row["age_days"])
            changed = max(created, now - dt.timedelta(days=min(row["changed_days"], row["age_days"])))
            session.execute(
                update(Feature)
                .where(Feature.id == ids[row["title"]])
                .values(created_at=created, updated_at=changed, status_changed_at=changed)
            )


def _people(session: Session) -> list[tuple[int, int | None]]:
    return [(pid, aid) for pid, _email, aid in session.execute(customers.person_accounts().order_by("person_id"))]


def _votes(session: Session, rng: random.Random, ids: dict[str, int], rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Portal-style votes and followers: a few popular features collect most of them."""
    people = _people(session)
    if not people:
        return 0, 0
    open_rows = [r for r in rows if r["status"] in ("idea", "under_consideration", "planned", "in_progress")]
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(open_rows))]
    rng.shuffle(open_rows)
    votes = subscribers = 0
    with transaction(session):  # one commit for the lot: seeding, not a user voting
        for row, weight in zip(open_rows, weights, strict=True):
            feature_id = ids[row["title"]]
            k = min(len(people), int(40 * weight) + rng.randint(0, 3))
            for person_id, _account in rng.sample(people, k=k):
                service.add_vote(session, ACTOR, feature_id, person_id)
                votes += 1
                if rng.random() < 0.3:
                    service.subscribe(session, ACTOR, feature_id, person_id)
                    subscribers += 1
    return votes, subscribers


@registry.demo_seeder("features", order=20)
def seed(session: Session, ctx: DemoContext) -> str:
    rng = random.Random(SEED + 1)
    rows = generate(ctx.product_ids, ctx.team_ids, [u for u in ctx.user_ids[1:] if u] or ctx.user_ids)
    ids = _existing_titles(session)
    new = [r for r in rows if r["title"] not in ids]
    for row in new:
        data = FeatureIn.model_validate({k: v for k, v in row.items() if k not in ("age_days", "changed_days")})
        ids[row["title"]] = service.create_feature(session, ACTOR, data).id
    votes = subscribers = merged = 0
    if new:
        _backdate(session, ids, new)
        votes, subscribers = _votes(session, rng, ids, new)
        for duplicate, survivor in MERGES:
            if any(r["title"] == duplicate for r in new):
                service.merge_features(session, ACTOR, ids[duplicate], ids[survivor])
                merged += 1
    shipped = sum(r["status"] == "shipped" for r in rows)
    return (
        f"{len(rows)} features ({len(new)} new, {shipped} shipped, {merged} merged), "
        f"{votes:,} votes and {subscribers:,} followers added"
    )
