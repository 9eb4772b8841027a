"""Helpers shared by the surveys tests (real database through the shared fixtures)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.customers.schemas import AccountIn, PersonIn
from prodops.domains.surveys import service
from prodops.domains.surveys.schemas import SurveyIn, SurveyOut
from prodops.platform.audit import Actor

ACTOR = Actor.system("test")


def make_survey(session: Session, **fields: object) -> SurveyOut:
    fields.setdefault("name", "Quarterly NPS")
    fields.setdefault("status", "active")
    return service.create_survey(session, ACTOR, SurveyIn.model_validate(fields))


def make_person(session: Session, email: str, *, arr: float = 0, owner_id: int | None = None) -> tuple[int, int]:
    """A person at an account of their e-mail domain (created with ``arr``); returns (person id, account id)."""
    domain = email.split("@")[1]
    account = customers.create_account(
        session,
        ACTOR,
        AccountIn(
            name=domain.split(".")[0].title(),
            domain=domain,
            arr=arr,
            owner_id=owner_id,
            plan="Growth",
            segment="Enterprise" if arr >= 50_000 else "SMB",
            region="EMEA",
        ),
    )
    person = customers.create_person(
        session, ACTOR, PersonIn(email=email, name=email.split("@", maxsplit=1)[0].title())
    )
    return person.id, account.id
