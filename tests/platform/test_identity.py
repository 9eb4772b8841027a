"""Sign-in, lock-out, sessions, CSRF, API tokens and user administration."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.platform.audit import AuditRecord
from prodops.platform.identity.models import ApiToken, User
from tests.conftest import PASSWORD, Client, login, make_token, make_user


def test_login_sets_a_signed_httponly_samesite_cookie(client: Client) -> None:
    user = make_user("member")
    client.refresh_csrf()
    r = client.form(
        "/login", {"email": user.email.upper(), "password": PASSWORD, "next": "/account"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/account"
    cookie = r.headers["set-cookie"].lower()
    assert "prodops_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/api/v1/me").json()["email"] == user.email


def test_wrong_password_is_refused_with_one_generic_message(client: Client) -> None:
    user = make_user()
    client.refresh_csrf()
    wrong = client.form("/login", {"email": user.email, "password": "nope-nope-nope"})
    unknown = client.form("/login", {"email": "nobody@example.com", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong e-mail or password." in wrong.text and "Wrong e-mail or password." in unknown.text
    assert client.get("/api/v1/me").status_code == 401


def test_account_locks_after_repeated_failures(client: Client, settings, session: Session) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    client.refresh_csrf()
    for _ in range(settings.login_max_failures):
        client.form("/login", {"email": user.email, "password": "bad-password-x"})
    r = client.form("/login", {"email": user.email, "password": PASSWORD})
    assert r.status_code == 401 and "locked" in r.text
    locked = session.get(User, user.id)
    assert locked is not None and locked.locked_until is not None
    assert (
        session.scalar(select(func.count()).where(AuditRecord.action == "lock", AuditRecord.entity_id == str(user.id)))
        == 1
    )


def test_login_rate_limit_per_address(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    client.refresh_csrf()
    codes = [
        client.form("/login", {"email": f"x{i}@example.com", "password": "whatever-123"}).status_code
        for i in range(settings.login_rate_per_minute + 1)
    ]
    assert codes[-1] == 429 and set(codes[:-1]) == {401}


def test_next_parameter_never_leaves_the_site(client: Client) -> None:
    user = make_user()
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        client.refresh_csrf()
        r = client.form("/login", {"email": user.email, "password": PASSWORD, "next": target}, follow_redirects=False)
        assert r.headers["location"] == "/"


def test_logout_and_password_change_end_sessions(client: Client) -> None:
    user = make_user()
    login(client, user)
    r = client.form(
        "/account/password", {"current": PASSWORD, "password": "a-brand-new-password"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert client.get("/api/v1/me").status_code == 200  # this session was renewed
    other = Client(client.app)
    login(other, user, "a-brand-new-password")
    client.form("/logout", follow_redirects=False)
    assert client.get("/api/v1/me").status_code == 401
    assert other.get("/api/v1/me").status_code == 200


def test_old_cookie_stops_working_after_password_reset_elsewhere(client: Client, session: Session) -> None:
    from prodops.platform.audit import Actor
    from prodops.platform.identity.service import set_password

    user = make_user()
    login(client, user)
    set_password(session, Actor.system("test"), user.id, "another-password-1")
    assert client.get("/api/v1/me").status_code == 401


def test_form_post_without_csrf_is_refused(client: Client) -> None:
    user = make_user("admin")
    login(client, user)
    r = client.post("/admin/users", data={"email": "new@example.com", "password": "long-enough-pw"})
    assert r.status_code == 403
    r = client.post(
        "/admin/users", data={"email": "new@example.com", "password": "long-enough-pw", "csrf_token": "forged"}
    )
    assert r.status_code == 403


def test_tokens_are_shown_once_stored_hashed_and_revocable(client: Client, session: Session) -> None:
    user = make_user("member")
    login(client, user)
    page = client.form("/account/tokens", {"name": "CRM sync", "scope": "write"})
    assert page.status_code == 200 and "will not be shown again" in page.text
    secret = page.text.split('id="new-token">')[1].split("<")[0]
    assert secret.startswith("pdo_")
    stored = session.scalars(select(ApiToken)).one()
    assert secret not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
    assert secret not in client.get("/account").text

    api = Client(client.app)
    r = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200 and r.json()["email"] == user.email
    session.rollback()  # end the test's read snapshot
    assert session.get(ApiToken, stored.id).last_used_at is not None  # type: ignore[union-attr]

    r = api.delete(f"/api/v1/tokens/{stored.id}", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 204
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_read_token_reads_but_cannot_write(client: Client) -> None:
    admin = make_user("admin")
    token = make_token(admin, "read")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/users", headers=headers).status_code == 200
    r = client.post("/api/v1/users", headers=headers, json={"email": "x@example.com", "password": "long-enough-pw"})
    assert r.status_code == 403 and "read" in r.json()["detail"]


def test_viewer_cannot_create_write_tokens(client: Client) -> None:
    token = make_token(make_user("viewer"), "read")
    r = client.post(
        "/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}, json={"name": "x", "scope": "write"}
    )
    assert r.status_code == 403  # a read token cannot write at all


def test_admin_manages_users_and_the_audit_log_records_it(admin_client: Client, session: Session) -> None:
    r = admin_client.form(
        "/admin/users",
        {"email": "new.person@example.com", "password": "long-enough-pw", "role": "viewer"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    new = session.scalars(select(User).where(User.email == "new.person@example.com")).one()
    r = admin_client.form(f"/admin/users/{new.id}", {"role": "member"}, follow_redirects=False)
    assert r.status_code == 303
    audit = admin_client.get("/api/v1/audit", params={"entity_type": "user", "entity_id": new.id}).json()
    actions = [(i["action"], i["changes"]) for i in audit["items"]]
    assert ("update", {"role": ["viewer", "member"]}) in actions
    assert any(a == "create" and c["email"] == [None, "new.person@example.com"] for a, c in actions)
    assert all(i["actor_label"] == admin_client.user.email for i in audit["items"])  # type: ignore[union-attr]
    page = admin_client.get("/admin/audit", params={"entity_type": "user"})
    assert page.status_code == 200 and "new.person@example.com" in page.text


def test_last_admin_cannot_be_demoted(admin_client: Client) -> None:
    me = admin_client.user
    assert me is not None
    r = admin_client.patch(
        f"/api/v1/users/{me.id}", json={"role": "viewer"}, headers={"X-CSRF-Token": admin_client.csrf}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "role"]


def test_bad_api_input_names_the_field_and_writes_nothing(admin_client: Client, session: Session) -> None:
    headers = {"X-CSRF-Token": admin_client.csrf}
    before = session.scalar(select(func.count()).select_from(User))
    r = admin_client.post(
        "/api/v1/users", content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    r = admin_client.post(
        "/api/v1/users", json={"email": "a@example.com", "password": "long-enough-pw", "colour": "red"}, headers=headers
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "colour"]
    r = admin_client.post("/api/v1/users", json={"email": "not-an-email", "password": 12}, headers=headers)
    locs = {tuple(e["loc"]) for e in r.json()["detail"]}
    assert r.status_code == 422 and ("body", "email") in locs and ("body", "password") in locs
    r = admin_client.post(
        "/api/v1/users", content=b"x" * (11 * 1024 * 1024), headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert session.scalar(select(func.count()).select_from(User)) == before


def test_error_pages_are_friendly(client: Client, admin_client: Client) -> None:
    r = admin_client.get("/no/such/page")
    assert r.status_code == 404 and "Not found" in r.text and "<html" in r.text
    r = admin_client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
