"""Frozen value types shared by all apps."""

from apps.common.errors import Problem

__all__ = ["Problem"]
