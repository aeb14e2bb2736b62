"""Helpers for the staff JSON API: a bearer token for an account, a routed tip."""

from __future__ import annotations

from tests.support.forms import reference_from, submit_tip


def bearer(client, account) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Sign in through POST /api/v1/auth/token; the Authorization header to use."""
    response = client.post(
        "/api/v1/auth/token",
        json={"email": account.email, "password": account.password, "totp": account.code()},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def routed_tip(client, drain, **fields: str) -> str:  # type: ignore[no-untyped-def]
    """Submit a tip through the web form and let the worker route it; its reference."""
    reference = reference_from(submit_tip(client, **fields).get_data(as_text=True))
    drain()
    return reference
