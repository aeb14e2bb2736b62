from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from tipline.migrate import downgrade, upgrade
from tipline.models import Base

pytestmark = pytest.mark.embedded


@pytest.fixture
def empty_database(backend, tmp_path):  # type: ignore[no-untyped-def]
    if backend.name == "embedded":
        yield create_engine(f"sqlite:///{tmp_path / 'migrate.db'}")
        return
    import uuid

    import psycopg

    from tests.conftest import POSTGRES_ADMIN

    name = f"tipline_migr_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(backend.database_url.rsplit("/", 1)[0] + f"/{name}")
    yield engine
    engine.dispose()
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_build_exactly_the_models(empty_database) -> None:  # type: ignore[no-untyped-def]
    upgrade(empty_database)
    with empty_database.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(empty_database) -> None:  # type: ignore[no-untyped-def]
    upgrade(empty_database)
    downgrade(empty_database, "base")
    assert set(inspect(empty_database).get_table_names()) <= {"alembic_version"}
    upgrade(empty_database)
    assert {"tips", "sealed_items", "outbox", "audit_log", "units"} <= set(
        inspect(empty_database).get_table_names()
    )
