"""REST provisioning API v1: an outer layer over the apps' `api` and `contracts` modules.

It imports nothing else from the apps (import-linter contract `outer-api-only`).
"""
