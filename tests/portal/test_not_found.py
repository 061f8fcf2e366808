"""Unknown addresses: a branded page (404) inside the portal layout under a tenant, a plain
branded page elsewhere, problem+json under the API; and the site's icon."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders
from django.test import Client

from tests.portal.world import signed_in_client


def _unmasked(body: bytes) -> bytes:
    """The page without its CSRF token (masked differently on every response)."""
    return re.sub(rb'"X-CSRFToken": "\w+"', b"", body)


def test_an_unknown_page_of_a_tenant_is_a_404_inside_the_portal_layout(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["support"])
    r = client.get("/portal/alpha/no-such-page/")
    assert r.status_code == 404
    assert [t.name for t in r.templates][:2] == ["portal/not_found.html", "portal/base.html"]
    body = r.content.decode()
    assert 'aria-label="Sections"' in body and "Tenant ALPHA" in body
    assert "There is no page at <code>/portal/alpha/no-such-page/</code> in Tenant ALPHA" in body
    assert "Not Found</h1>" not in body  # not Django's bare page
    # Without the trailing slash and deeper down: the same page, no redirect first.
    assert client.get("/portal/alpha/no-such-page").status_code == 404
    assert client.get("/portal/alpha/stations/1/nothing/here").status_code == 404
    assert client.head("/portal/alpha/no-such-page/").status_code == 404


def test_a_tenant_that_is_not_yours_looks_exactly_like_one_that_does_not_exist(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    theirs = client.get("/portal/beta/no-such-page/")
    nobodys = client.get("/portal/gamma/no-such-page/")
    assert theirs.status_code == nobodys.status_code == 404
    assert _unmasked(theirs.content) == _unmasked(nobodys.content)
    assert b"Tenant BETA" not in theirs.content and b"beta" not in theirs.content


def test_signed_out_an_unknown_tenant_page_asks_for_sign_in_like_every_portal_page(
    world,
) -> None:
    r = Client().get("/portal/alpha/no-such-page/")
    assert r.status_code == 302
    assert r["Location"] == "/portal/sign-in/?next=%2Fportal%2Falpha%2Fno-such-page%2F"


def test_an_unknown_page_outside_the_portal_is_a_plain_branded_404(world) -> None:
    a, _ = world
    for client in (Client(), signed_in_client(a.users["support"])):
        r = client.get("/no-such-page")
        assert r.status_code == 404
        body = r.content.decode()
        assert "⚡ EV back office" in body and "<h2>Page not found</h2>" in body
        assert "There is no page at /no-such-page." in body
        assert 'aria-label="Sections"' not in body
        assert client.post("/portal/alpha/no-such-page/").status_code == 404


def test_an_unknown_api_path_is_still_problem_json(world) -> None:
    r = Client().get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r["Content-Type"] == "application/problem+json"
    assert r.json()["instance"] == "/api/v1/no-such-thing"


def test_the_site_has_an_icon(world) -> None:
    a, _ = world
    r = Client().get("/favicon.ico")
    assert r.status_code == 302 and r["Location"] == "/static/portal/favicon.svg"
    assert finders.find("portal/favicon.svg")
    assert Client().post("/favicon.ico").status_code == 405
    page = signed_in_client(a.users["support"]).get("/portal/alpha/").content.decode()
    assert '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">' in page
