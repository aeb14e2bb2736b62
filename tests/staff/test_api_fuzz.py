"""Schemathesis against /api/v1/openapi.json, signed in: no 5xx, no answer outside the
document, nothing slow.

Every operation of the document is fuzzed with a valid investigator's token, on real
PostgreSQL (or SQLite) and Redis, with real tips in the token's unit and in another unit
so that generated references sometimes hit. CI runs a bounded number of examples per
operation; ``pytest --long`` runs many more.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import update

from tests.support import scale
from tests.support.api import bearer, routed_tip
from tipline.db import transaction
from tipline.models import Staff
from tipline.staff.openapi import document

pytestmark = pytest.mark.embedded

# Units, categories and zones are the deployment's own names (config/), which a static
# document cannot list: an unknown one is a documented 400, so "schema-valid request
# rejected" is expected on these operations and nowhere else.
CONFIG_NAMES = {"/queue", "/stats"}
EXAMPLES = 300 if scale.LONG else 12
DEADLINE_SECONDS = 5.0


@pytest.fixture
def api_app(app, runtime, drain, world):  # type: ignore[no-untyped-def]
    client = app.test_client()
    routed_tip(client, drain, zone="on-north")
    routed_tip(client, drain, zone="qc-montreal")
    # The document the app serves is the one fuzzed.
    assert client.get("/api/v1/openapi.json").get_json() == document()
    return app


@pytest.fixture
def token(app, runtime, world):  # type: ignore[no-untyped-def]
    with transaction(runtime.sessions) as session:
        session.execute(update(Staff).values(totp_last_counter=0))
    return bearer(app.test_client(), world["north"])


# Built at collection from the same function that serves /api/v1/openapi.json (the
# fixture checks they are equal), one test per operation.
schema = schemathesis.openapi.from_dict(document())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,  # measured below, per request, against the real database
    suppress_health_check=list(HealthCheck),
    derandomize=not scale.LONG,
)
def test_the_api_answers_fuzzed_requests_within_its_document(case, api_app, token) -> None:  # type: ignore[no-untyped-def]
    # The checks' own follow-up requests (a call without the token, a call after DELETE)
    # go through the schema's transport: point it at the app too.
    case.operation.schema.app = api_app
    started = time.monotonic()
    excluded = []
    if case.operation.path in CONFIG_NAMES:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(
        app=api_app, base_url="http://localhost/api/v1", headers=token, excluded_checks=excluded
    )
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE_SECONDS, f"{case.method} {case.path} took {elapsed:.1f} s"
