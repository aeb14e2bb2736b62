"""The `tipline` command as an operator runs it: a real process, real database."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select

from tests.conftest import settings_env
from tipline.models import AuditEntry, Membership, Staff

pytestmark = pytest.mark.embedded


def tipline(env, *args, input_text=None):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "tipline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        input=input_text,
        timeout=120,
    )


def test_keys_init_writes_only_the_public_half_and_refuses_to_overwrite(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = settings_env(settings) | {"TIPLINE_KEYS_DIR": str(tmp_path / "keys")}
    first = tipline(env, "keys", "init")
    assert first.returncode == 0, first.stderr
    assert "TIPLINE-RECOVERY-PRIVATE-KEY-V1:" in first.stdout
    written = (tmp_path / "keys" / "recovery.pub").read_text()
    assert written.startswith("tipline-recovery-public-v1 ")
    assert "PRIVATE" not in written
    again = tipline(env, "keys", "init")
    assert again.returncode != 0 and "already exists" in again.stderr
    assert (tmp_path / "keys" / "recovery.pub").read_text() == written


def test_staff_add_grants_units_with_the_recovery_key(
    settings, runtime, recovery_key, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from tipline.crypto import recovery as rk

    key_file = tmp_path / "recovery.txt"
    key_file.write_text(rk.encode_private(recovery_key))
    result = tipline(
        settings_env(settings), "staff", "add", "New.Person@Example.test", "--role", "supervisor",
        "--unit", "on-north-general", "--recovery-key-file", str(key_file),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "one-time password:" in result.stdout and "otpauth://totp/" in result.stdout
    with runtime.sessions() as session:
        staff = session.scalars(select(Staff).where(Staff.email == "new.person@example.test")).one()
        assert staff.role == "supervisor"
        assert (
            len(session.scalars(select(Membership).where(Membership.staff_id == staff.id)).all())
            == 1
        )
        session.delete(staff)
        session.commit()


def test_staff_add_with_a_wrong_recovery_key_changes_nothing(settings, runtime, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tipline.crypto import generate_private_key
    from tipline.crypto import recovery as rk

    key_file = tmp_path / "other.txt"
    key_file.write_text(rk.encode_private(generate_private_key()))
    result = tipline(
        settings_env(settings),
        "staff",
        "add",
        "x@example.test",
        "--role",
        "investigator",
        "--unit",
        "on-north-general",
        "--recovery-key-file",
        str(key_file),
    )
    assert result.returncode != 0
    with runtime.sessions() as session:
        assert session.scalars(select(Staff).where(Staff.email == "x@example.test")).first() is None


def test_staff_add_rejects_unknown_unit_and_role(settings, runtime, recovery_key, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tipline.crypto import recovery as rk

    key_file = tmp_path / "recovery.txt"
    key_file.write_text(rk.encode_private(recovery_key))
    bad_role = tipline(settings_env(settings), "staff", "add", "y@example.test", "--role", "chief")
    assert bad_role.returncode == 2
    unknown = tipline(
        settings_env(settings), "staff", "add", "y@example.test", "--role", "investigator",
        "--unit", "atlantis", "--recovery-key-file", str(key_file),
    )  # fmt: skip
    assert unknown.returncode == 1
    assert "unknown unit(s): atlantis" in unknown.stderr
    with runtime.sessions() as session:
        assert session.scalars(select(Staff).where(Staff.email == "y@example.test")).first() is None


def test_config_check_prints_the_summary(settings) -> None:  # type: ignore[no-untyped-def]
    result = tipline(settings_env(settings), "config", "check")
    assert result.returncode == 0, result.stderr
    assert "zones" in result.stdout and "on-organized-crime" in result.stdout


def test_config_check_fails_clearly_on_a_broken_config(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    broken = tmp_path / "config"
    shutil.copytree(settings.config_dir, broken)
    (broken / "categories.yaml").write_text("categories: [:::")
    result = tipline(
        settings_env(settings) | {"TIPLINE_CONFIG_DIR": str(broken)}, "config", "check"
    )
    assert result.returncode == 1
    assert "categories.yaml" in result.stderr


def test_a_wrong_setting_fails_before_anything_runs(settings) -> None:  # type: ignore[no-untyped-def]
    result = tipline(
        settings_env(settings) | {"TIPLINE_PUBLIC_URL": "nonsense"}, "scheduler", "--check"
    )
    assert result.returncode == 1
    assert "TIPLINE_PUBLIC_URL" in result.stderr


def test_audit_verify_finds_a_tampered_entry(settings, runtime, client) -> None:  # type: ignore[no-untyped-def]

    from tipline.audit import record
    from tipline.db import transaction

    with transaction(runtime.sessions) as session:
        for i in range(3):
            record(session, "cli", "test.event", f"subject-{i}")
    assert tipline(settings_env(settings), "audit", "verify").returncode == 0
    with transaction(runtime.sessions) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.subject == "subject-1")).one()
        entry.subject = "subject-rewritten"
    result = tipline(settings_env(settings), "audit", "verify")
    assert result.returncode == 1
    assert "broken at entry" in result.stderr


def test_worker_process_routes_a_pending_tip(settings, runtime, client) -> None:  # type: ignore[no-untyped-def]
    from tests.support.forms import reference_from, submit_tip
    from tipline.models import Tip

    reference = reference_from(submit_tip(client).get_data(as_text=True))
    result = tipline(settings_env(settings), "worker", "--burst")
    assert result.returncode == 0, result.stderr
    with runtime.sessions() as session:
        assert session.scalars(select(Tip.status).where(Tip.reference == reference)).one() == "new"
    assert reference not in result.stderr + result.stdout


def test_staff_grant_adds_units_to_an_existing_account(
    settings, runtime, recovery_key, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from tipline.crypto import generate_private_key
    from tipline.crypto import recovery as rk
    from tipline.db import transaction
    from tipline.keyring import add_staff

    with transaction(runtime.sessions) as session:
        staff_id = add_staff(session, "granted@example.test", "investigator", settings.kdf).staff.id
    key_file = tmp_path / "recovery.txt"
    key_file.write_text(rk.encode_private(recovery_key))
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(rk.encode_private(generate_private_key()))
    env = settings_env(settings)
    refused = tipline(
        env,
        "staff",
        "grant",
        "granted@example.test",
        "--unit",
        "on-east-general",
        "--recovery-key-file",
        str(wrong),
    )
    assert refused.returncode != 0 and "not this deployment's recovery key" in refused.stderr
    unknown = tipline(
        env,
        "staff",
        "grant",
        "nobody@example.test",
        "--unit",
        "on-east-general",
        "--recovery-key-file",
        str(key_file),
    )
    assert unknown.returncode != 0 and "no active account" in unknown.stderr
    done = tipline(
        env,
        "staff",
        "grant",
        "granted@example.test",
        "--unit",
        "on-east-general",
        "--recovery-key-file",
        str(key_file),
    )
    assert done.returncode == 0, done.stderr
    with runtime.sessions() as session:
        assert (
            len(session.scalars(select(Membership).where(Membership.staff_id == staff_id)).all())
            == 1
        )
        session.delete(session.get(Staff, staff_id))
        session.commit()
