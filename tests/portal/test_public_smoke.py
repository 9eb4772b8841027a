"""The portal frame: the portal's name, colours and sign-in link, and nothing of the staff shell."""

from __future__ import annotations

from sqlalchemy.orm import Session

from prodops.domains.portal.models import Board, Portal
from tests.conftest import Client, login, make_user
from tests.portal.conftest import make_portal


def test_home_shows_portal_name_and_colours_not_staff_navigation(client: Client, session: Session) -> None:
    portal = make_portal(session, name="Acme <Ideas>", primary_color="#ff0000", background_color="#111111")
    login(client, make_user("admin"))  # a staff session in the same browser changes nothing on portal pages
    page = client.get(f"/p/{portal.slug}")
    assert page.status_code == 200
    assert "Acme &lt;Ideas&gt;" in page.text and "<Ideas>" not in page.text
    assert "--portal-primary: #ff0000" in page.text and "--pico-background-color: #111111" in page.text
    assert 'data-theme="dark"' in page.text
    assert 'class="sidebar"' not in page.text and "/logout" not in page.text and "(admin)" not in page.text
    assert f"/p/{portal.slug}/signin" in page.text and 'href="#main"' in page.text


def test_invalid_colours_and_logo_never_reach_the_page(client: Client, session: Session) -> None:
    portal = make_portal(session, primary_color="red;}", logo_url="javascript:alert(1)")
    page = client.get(f"/p/{portal.slug}")
    assert "red;}" not in page.text and "javascript:" not in page.text
    assert "--portal-primary: #4f46e5" in page.text


def test_unknown_or_disabled_portal_is_404(client: Client, session: Session) -> None:
    assert client.get("/p/nope").status_code == 404
    portal = make_portal(session, enabled=False)
    assert client.get(f"/p/{portal.slug}").status_code == 404


def test_portal_client_fixture_is_signed_in(portal_client: Client, portal: Portal, board: Board) -> None:
    page = portal_client.get(f"/p/{portal.slug}")
    assert "Sign out" in page.text and board.name in page.text


def test_colours_stay_readable() -> None:
    from prodops.domains.portal.service.access import PortalView, contrast, readable_on

    assert readable_on("#ffff00") == "#000000" and readable_on("#1e3a8a") == "#ffffff"
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    view = PortalView.of(
        Portal(
            id=1,
            slug="a",
            name="A",
            intro="",
            logo_url="",
            visibility="public",
            allow_anonymous=False,
            sso_secret=None,
            primary_color="#ffff00",
            background_color="#ffffff",
        )
    )
    # A yellow brand colour makes buttons with black text, and links fall back to the readable text colour.
    assert view.on_primary == "#000000" and view.link == "#000000" and not view.dark
    dark = PortalView.of(
        Portal(
            id=2,
            slug="b",
            name="B",
            intro="",
            logo_url="/logo.png",
            visibility="public",
            allow_anonymous=False,
            sso_secret="x",
            primary_color="#60a5fa",
            background_color="#0b1020",
        )
    )
    assert dark.dark and dark.text == "#ffffff" and dark.link == "#60a5fa" and dark.logo_url == "/logo.png"
    assert dark.sso_enabled


def test_refusals_render_inside_the_portal_frame(portal_client: Client, portal: Portal, board: Board) -> None:
    missing = portal_client.get(f"/p/{portal.slug}/b/no-such-board")
    assert missing.status_code == 404 and "Back to Acme Ideas" in missing.text
    assert "--portal-primary" in missing.text and "Go to the start page" not in missing.text
    forged = portal_client.post(f"/p/{portal.slug}/signout", data={"csrf_token": "wrong"})
    assert forged.status_code == 403 and "The form expired" in forged.text and "Back to Acme Ideas" in forged.text
    assert portal_client.get("/p/no-such-portal/b/x").status_code == 404
