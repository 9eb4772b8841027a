from tests.conftest import Client


def test_health(client: Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["database"] == "ok"


def test_admin_pages_render(admin_client: Client) -> None:
    for path in ("/", "/account", "/admin/users", "/admin/org", "/admin/audit"):
        r = admin_client.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert "<h1>" in r.text or "<h1 " in r.text
