"""CLI: `prodops users ...` and `prodops tokens ...`."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from prodops.platform import registry
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope
from prodops.platform.errors import ServiceError
from prodops.platform.identity import service
from prodops.platform.identity.schemas import TokenCreate, UserCreate

console = Console()
users_app = registry.cli("users", typer.Typer(help="Manage users.", no_args_is_help=True))
tokens_app = registry.cli("tokens", typer.Typer(help="Manage personal API tokens.", no_args_is_help=True))


def _fail(exc: ValidationError | ServiceError) -> None:
    if isinstance(exc, ServiceError):
        console.print(f"[red]Error:[/red] {exc.field + ': ' if exc.field else ''}{exc.message}")
    else:
        for err in exc.errors():
            console.print(f"[red]Error:[/red] {'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
    raise typer.Exit(2)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="E-mail address (the sign-in name).")],
    password: Annotated[
        str, typer.Option(help="Initial password, at least 10 characters.", prompt=True, hide_input=True)
    ],
    role: Annotated[str, typer.Option(help="viewer, member or admin.")] = "member",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Create a user."""
    try:
        data = UserCreate(email=email, password=password, role=role, name=name)
        with session_scope() as session:
            user = service.create_user(session, Actor.system("cli"), data)
            console.print(f"Created {user.role} [bold]{user.email}[/bold] (id {user.id}).")
    except (ValidationError, ServiceError) as exc:
        _fail(exc)


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Option(help="Owner of the token.")],
    scope: Annotated[str, typer.Option(help="read or write.")] = "read",
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "cli",
) -> None:
    """Create a personal API token. The token is printed once, on the last line."""
    try:
        data = TokenCreate(name=name, scope=scope)
        with session_scope() as session:
            user = service.get_user_by_email(session, email)
            if user is None:
                raise ServiceError("email", f"no user with e-mail {email}")
            _, secret = service.create_token(session, Actor.system("cli"), user.id, data)
    except (ValidationError, ServiceError) as exc:
        _fail(exc)
        return
    console.print(f"Created a {scope} token for {email}. Store it now; it cannot be shown again.", highlight=False)
    print(secret)
