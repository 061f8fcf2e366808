"""OCPI views of area "cpo_receiver" (filled by that area)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
