"""The site's error pages from the project-level `templates/` (ADR 0021): Django's 400, 403,
CSRF and 500 handlers render the branded page, in the site's layout, without a request's
context or a database read."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.template.loader import get_template
from django.test import Client, RequestFactory
from django.views import defaults


def _branded(body: str, title: str) -> None:
    assert "⚡ EV back office" in body and f"<h2>{title}</h2>" in body
    assert 'data-testid="error-page"' in body and 'href="/portal/"' in body
    assert 'aria-label="Sections"' not in body  # outside a tenant's layout


@pytest.mark.django_db
def test_the_500_page_is_branded_and_needs_no_request_context() -> None:
    request = RequestFactory().get("/anything")
    r = defaults.server_error(request)
    assert r.status_code == 500
    _branded(r.content.decode(), "Something went wrong")


@pytest.mark.django_db
def test_the_400_and_403_pages_are_branded() -> None:
    request = RequestFactory().get("/anything")
    bad = defaults.bad_request(request, Exception("bad"))
    assert bad.status_code == 400
    _branded(bad.content.decode(), "Bad request")
    denied = defaults.permission_denied(request, PermissionDenied())
    assert denied.status_code == 403
    _branded(denied.content.decode(), "Not allowed")


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_gets_the_branded_page_and_changes_nothing() -> None:
    r = Client(enforce_csrf_checks=True).post(
        "/portal/sign-in/", {"email": "x@example.com", "password": "x"}
    )
    assert r.status_code == 403
    _branded(r.content.decode(), "The form has expired")
    assert "reload the page and send it again" in r.content.decode()


def test_the_layout_and_the_error_pages_are_project_templates() -> None:
    for name in ("base.html", "errors/page.html", "400.html", "403.html", "403_csrf.html"):
        origin = get_template(name).origin.name
        assert "/templates/" in origin and "/portal/templates/" not in origin, (name, origin)
    assert "/portal/templates/" in get_template("portal/base.html").origin.name


@pytest.mark.django_db
def test_an_error_page_is_the_same_for_every_request_and_sets_no_cookie() -> None:
    # A bad Host header on an API path gets the 400 page: no CSRF token in it, no cookie set
    # (the ASGI fast path answers such requests byte for byte as Django does).
    answers = [
        Client().get("/api/v1/cdrs", HTTP_HOST="evil.example", HTTP_AUTHORIZATION=f"Bearer {n}")
        for n in ("a", "b")
    ]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].content == answers[1].content
    assert all("csrftoken" not in a.cookies for a in answers)
    assert b"X-CSRFToken" not in answers[0].content
