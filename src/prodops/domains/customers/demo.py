"""Demo customers: 800 accounts with a heavy-tailed ARR, 3,000 people, four saved segments.

Generated from this module's own seed, so the data is the same whatever other seeders do. Domains end
in ``.example`` (reserved, RFC 2606): no demo e-mail can ever reach a real company.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

from sqlalchemy.orm import Session

from prodops.domains.customers import service
from prodops.domains.customers.schemas import Condition, SegmentIn
from prodops.platform import registry
from prodops.platform.audit import Actor
from prodops.platform.demo import DemoContext

SEED = 41_802_026
ACCOUNTS = 800
PEOPLE = 3_000
ACTOR = Actor.system("demo")

PREFIXES = [
    "North",
    "Blue",
    "Bright",
    "Iron",
    "Silver",
    "Quantum",
    "Cedar",
    "Harbor",
    "Summit",
    "Copper",
    "Atlas",
    "Nova",
    "Pine",
    "Vector",
    "Lumen",
    "Orbit",
    "Granite",
    "Maple",
    "Signal",
    "Polar",
    "Crimson",
    "Evergreen",
    "Falcon",
    "Golden",
    "Hyper",
    "Keystone",
    "Lattice",
    "Meridian",
    "Onyx",
    "Prairie",
    "Redwood",
    "Sterling",
    "Tidal",
    "Union",
    "Velvet",
    "Willow",
    "Zenith",
    "Aurora",
    "Beacon",
    "Cobalt",
]
ROOTS = [
    "wave",
    "stack",
    "field",
    "loop",
    "forge",
    "bridge",
    "works",
    "point",
    "line",
    "scale",
    "path",
    "gate",
    "leaf",
    "mark",
    "peak",
    "grid",
    "spark",
    "stone",
    "ridge",
    "flow",
    "craft",
    "hub",
    "labs",
    "base",
    "shift",
    "way",
    "sight",
    "core",
    "lane",
    "port",
]
SUFFIXES = [
    "",
    "",
    "",
    " Inc",
    " Labs",
    " Systems",
    " Health",
    " Logistics",
    " Analytics",
    " Group",
    " Bank",
    " Software",
    " Retail",
    " Energy",
    " Media",
    " Robotics",
]
INDUSTRIES = [
    "Fintech",
    "Healthcare",
    "Retail",
    "Logistics",
    "SaaS",
    "Manufacturing",
    "Media",
    "Education",
    "Energy",
    "Public sector",
    "Travel",
    "Insurance",
]
REGIONS = [("NA", 0.45), ("EMEA", 0.30), ("APAC", 0.17), ("LATAM", 0.08)]
STAGES = [
    ("active", 0.55),
    ("expansion", 0.10),
    ("onboarding", 0.08),
    ("trial", 0.07),
    ("at_risk", 0.12),
    ("churned", 0.08),
]
FIRST = [
    "Aaliyah",
    "Adam",
    "Aiko",
    "Alejandro",
    "Amara",
    "Anders",
    "Ana",
    "Arjun",
    "Beatriz",
    "Camille",
    "Carlos",
    "Chen",
    "Daniel",
    "Dara",
    "Diego",
    "Elif",
    "Emma",
    "Ethan",
    "Fatima",
    "Felix",
    "Freya",
    "Gabriel",
    "Hana",
    "Hassan",
    "Ingrid",
    "Isabel",
    "Ivan",
    "Jamal",
    "Jin",
    "Julia",
    "Kai",
    "Kavya",
    "Lars",
    "Layla",
    "Leon",
    "Lucia",
    "Malik",
    "Marta",
    "Mateo",
    "Mei",
    "Mila",
    "Nadia",
    "Nikolai",
    "Nina",
    "Omar",
    "Paula",
    "Rahul",
    "Rania",
    "Ravi",
    "Sara",
    "Sofia",
    "Sven",
    "Tariq",
    "Thandiwe",
    "Tomas",
    "Valentina",
    "Yara",
    "Yuki",
    "Zainab",
    "Zoltan",
]
LAST = [
    "Abbott",
    "Afolabi",
    "Andersson",
    "Bauer",
    "Bianchi",
    "Brennan",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fernandes",
    "Gonzalez",
    "Gupta",
    "Haddad",
    "Hansen",
    "Ivanova",
    "Jansen",
    "Kim",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Müller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Oliveira",
    "Olsen",
    "Park",
    "Petrov",
    "Quinn",
    "Ramos",
    "Reddy",
    "Schmidt",
    "Singh",
    "Sato",
    "Takahashi",
    "Torres",
    "Valdez",
    "Van Dijk",
    "Walsh",
    "Wang",
    "Yilmaz",
    "Zhang",
]
TITLES = [
    "CEO",
    "CTO",
    "VP Engineering",
    "VP Product",
    "Head of Operations",
    "Head of Customer Success",
    "Product Manager",
    "Senior Product Manager",
    "Engineering Manager",
    "Software Engineer",
    "Data Analyst",
    "Designer",
    "Operations Lead",
    "IT Administrator",
    "Finance Manager",
    "Support Lead",
    "Marketing Manager",
]
EXEC_TITLES = ["CEO", "CTO", "VP Engineering", "VP Product"]

SEGMENTS = [
    SegmentIn(
        name="Enterprise in EMEA",
        entity="accounts",
        description="Enterprise-segment accounts in Europe, the Middle East and Africa.",
        filters=[
            Condition(field="segment", op="eq", value="Enterprise"),
            Condition(field="region", op="eq", value="EMEA"),
        ],
    ),
    SegmentIn(
        name="At-risk accounts over $50K ARR",
        entity="accounts",
        description="Revenue to save first.",
        filters=[
            Condition(field="lifecycle_stage", op="eq", value="at_risk"),
            Condition(field="arr", op="gte", value=50_000),
        ],
    ),
    SegmentIn(
        name="Fintech on Growth or Enterprise",
        entity="accounts",
        description="Financial-services customers on paid tiers.",
        filters=[
            Condition(field="attributes.industry", op="eq", value="Fintech"),
            Condition(field="plan", op="in", value=["Growth", "Enterprise"]),
        ],
    ),
    SegmentIn(
        name="Executives at Enterprise accounts",
        entity="people",
        description="Who to invite to the customer advisory board.",
        filters=[
            Condition(field="title", op="in", value=list(EXEC_TITLES)),
            Condition(field="account.segment", op="eq", value="Enterprise"),
        ],
    ),
]


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _arr(rng: random.Random) -> float:
    """Heavy-tailed ARR: lognormal around a few thousand, with a few enterprise accounts in the millions."""
    if rng.random() < 0.08:
        return 0.0  # free accounts
    value = rng.lognormvariate(math.log(6_000), 1.55)
    if rng.random() < 0.006:
        value = rng.uniform(1_000_000, 4_500_000)
    return float(min(round(value, -2), 5_000_000) or 100)


def _plan(rng: random.Random, arr: float) -> str:
    if arr == 0:
        return "Free"
    if arr < 12_000:
        return "Growth" if arr > 8_000 and rng.random() < 0.3 else "Starter"
    if arr < 100_000:
        return "Enterprise" if arr > 60_000 and rng.random() < 0.3 else "Growth"
    return "Enterprise"


def _segment(arr: float) -> str:
    if arr >= 100_000:
        return "Enterprise"
    if arr >= 20_000:
        return "Mid-Market"
    return "SMB"


def generate(owner_ids: list[int], now: dt.datetime | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The demo accounts and people as plain rows (deterministic for the same owners)."""
    rng = random.Random(SEED)
    now = now or dt.datetime.now(dt.UTC)
    combos = [(p, r) for p in PREFIXES for r in ROOTS]
    accounts: list[dict[str, Any]] = []
    for i, (prefix, root) in enumerate(rng.sample(combos, ACCOUNTS)):
        suffix = rng.choice(SUFFIXES)
        arr = _arr(rng)
        stage = "trial" if arr == 0 and rng.random() < 0.5 else _pick(rng, STAGES)
        health = max(5, min(99, int(rng.gauss(38 if stage in ("at_risk", "churned") else 74, 12))))
        accounts.append(
            {
                "external_id": f"demo-acc-{i + 1:04d}",
                "name": f"{prefix}{root}{suffix}",
                "domain": f"{prefix.lower()}{root}.example",
                "plan": _plan(rng, arr),
                "arr": arr,
                "segment": _segment(arr),
                "region": _pick(rng, REGIONS),
                "lifecycle_stage": stage,
                "owner_id": rng.choice(owner_ids) if owner_ids and rng.random() < 0.9 else None,
                "attributes": {
                    "industry": rng.choice(INDUSTRIES),
                    "seats": max(1, int(arr / rng.uniform(300, 900))) if arr else rng.randint(1, 5),
                    "health_score": health,
                },
                "created_at": now - dt.timedelta(days=rng.randint(5, 3 * 365), minutes=rng.randint(0, 1440)),
            }
        )
    # Bigger customers have more people on record: weight by log ARR, at least one person each.
    weights = [1 + math.log10(1 + a["arr"]) ** 2 for a in accounts]
    owners_of = list(range(ACCOUNTS)) + rng.choices(range(ACCOUNTS), weights=weights, k=PEOPLE - ACCOUNTS)
    people: list[dict[str, Any]] = []
    used: set[str] = set()
    for n, index in enumerate(sorted(owners_of)):
        account = accounts[index]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{first}.{last}".lower().replace(" ", "").replace("ü", "ue")
        email = f"{local}@{account['domain']}"
        duplicate = 2
        while email in used:
            email = f"{local}{duplicate}@{account['domain']}"
            duplicate += 1
        used.add(email)
        title = rng.choice(EXEC_TITLES) if rng.random() < 0.12 else rng.choice(TITLES)
        people.append(
            {
                "external_id": f"demo-person-{n + 1:05d}",
                "email": email,
                "name": f"{first} {last}",
                "title": title,
                "account_external_id": account["external_id"],
                "attributes": {"role": rng.choice(["admin", "user", "user", "user", "billing"])},
                "created_at": account["created_at"] + dt.timedelta(days=rng.randint(0, 120)),
            }
        )
    for p in people:  # nobody joins in the future
        p["created_at"] = min(p["created_at"], now)
    return accounts, people


@registry.demo_seeder("customers", order=10)
def seed(session: Session, ctx: DemoContext) -> str:
    accounts, people = generate(sorted(ctx.user_ids))
    result = service.seed_customers(session, ACTOR, accounts, people, SEGMENTS, label="demo")
    return f"{ACCOUNTS} accounts ({result.accounts:,} new), {PEOPLE:,} people ({result.people:,} new), {len(SEGMENTS)} segments ({result.segments} new)"
