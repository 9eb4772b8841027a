"""Demo organisation seeding: the platform's own part (users, products, teams) and the seeder registry run."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.platform import registry
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import session_scope, transaction
from prodops.platform.identity.models import User
from prodops.platform.identity.security import hash_password
from prodops.platform.org.models import Product, Team

SEED = 20261122
ACTOR = Actor.system("demo")

PRODUCTS = [
    ("core", "Acme Core", "The web application customers run their operations on."),
    ("mobile", "Acme Mobile", "iOS and Android companion apps."),
]
TEAMS = [
    ("platform", "Platform", "core"),
    ("growth", "Growth", "core"),
    ("insights", "Insights", "core"),
    ("mobile", "Mobile", "mobile"),
    ("support", "Customer Support", None),
]
FIRST = [
    "Ava",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Adams",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Martin",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quist",
    "Rossi",
    "Silva",
    "Tanaka",
    "Usman",
    "Varga",
    "Weber",
    "Xu",
    "Young",
]


@dataclass
class DemoContext:
    """Shared facts for seeders: a seeded random generator and what lower layers created."""

    rng: random.Random
    user_ids: list[int] = field(default_factory=list)
    product_ids: dict[str, int] = field(default_factory=dict)
    team_ids: dict[str, int] = field(default_factory=dict)


def _seed_platform(session: Session, ctx: DemoContext) -> str:
    settings = get_settings()
    created = 0
    with transaction(session):
        existing = {u.email: u for u in session.scalars(select(User))}
        admin = existing.get(settings.demo_admin_email)
        if admin is None:
            admin = User(
                email=settings.demo_admin_email,
                name="Demo Admin",
                role="admin",
                password_hash=hash_password(settings.demo_admin_password),
            )
            session.add(admin)
            created += 1
        # One argon2 hash shared by the demo colleagues keeps seeding fast; they sign in with the same password.
        colleague_hash = None
        people = []
        for i in range(24):
            name = f"{FIRST[i]} {LAST[i]}"
            email = f"{FIRST[i].lower()}.{LAST[i].lower()}@acme.example"
            user = existing.get(email)
            if user is None:
                colleague_hash = colleague_hash or hash_password(settings.demo_admin_password)
                role = "admin" if i == 0 else ("viewer" if i % 6 == 5 else "member")
                user = User(email=email, name=name, role=role, password_hash=colleague_hash)
                session.add(user)
                created += 1
            people.append(user)
        session.flush()
        ctx.user_ids = [admin.id] + [u.id for u in people]
        products = {p.key: p for p in session.scalars(select(Product))}
        for key, name, description in PRODUCTS:
            if key not in products:
                products[key] = Product(key=key, name=name, description=description)
                session.add(products[key])
        session.flush()
        ctx.product_ids = {k: p.id for k, p in products.items()}
        teams = {t.key: t for t in session.scalars(select(Team))}
        for index, (key, name, product) in enumerate(TEAMS):
            if key not in teams:
                team = Team(key=key, name=name, product_id=ctx.product_ids.get(product) if product else None)
                team.members = people[index * 5 : index * 5 + 5] or people[-4:]
                teams[key] = team
                session.add(team)
        session.flush()
        ctx.team_ids = {k: t.id for k, t in teams.items()}
    return f"{len(ctx.user_ids)} users ({created} new), {len(ctx.product_ids)} products, {len(ctx.team_ids)} teams"


def run_demo(console: Console | None = None) -> list[str]:
    """Run every registered seeder in order; idempotent. Returns the summaries."""
    console = console or Console()
    reg = registry.load_domains()
    ctx = DemoContext(rng=random.Random(SEED))
    seeders = [("platform", _seed_platform), *[(s.name, s.seed) for s in reg.demo_seeders]]
    summaries = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Seeding the demo organisation", total=len(seeders))
        for name, seed in seeders:
            progress.update(task, description=f"Seeding {name}")
            with session_scope() as session:
                summary = seed(session, ctx)
            summaries.append(f"{name}: {summary}")
            progress.advance(task)
    for line in summaries:
        console.print(f"  [green]✓[/green] {line}")
    return summaries
