"""Accounts some staff tests need besides the shared world: an administrator (no unit)
and a newcomer (no unit yet), each created once per test and removed after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from tests.conftest import StaffAccount
from tipline.db import transaction
from tipline.keyring import add_staff
from tipline.models import AuditEntry, Staff


def _account(runtime, email: str, role: str) -> Iterator[StaffAccount]:  # type: ignore[no-untyped-def]
    with transaction(runtime.sessions) as session:
        created = add_staff(session, email, role, runtime.settings.kdf)
        account = StaffAccount(
            created.staff.id, created.staff.email, created.password, created.totp_secret, ()
        )
    yield account
    with transaction(runtime.sessions) as session:
        session.execute(delete(AuditEntry))
        session.execute(Staff.__table__.update().where(Staff.id == account.id).values(active=True))
        session.execute(delete(Staff).where(Staff.id == account.id))


@pytest.fixture
def admin_account(runtime) -> Iterator[StaffAccount]:  # type: ignore[no-untyped-def]
    yield from _account(runtime, "admin@example.test", "admin")


@pytest.fixture
def newcomer(runtime) -> Iterator[StaffAccount]:  # type: ignore[no-untyped-def]
    yield from _account(runtime, "newcomer@example.test", "investigator")
