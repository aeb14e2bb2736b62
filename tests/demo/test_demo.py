"""`tipline demo` as a new user runs it: nothing configured, one command, a browser."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS, require_chromium

pytestmark = pytest.mark.embedded

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_using(data_dir: Path) -> list[int]:
    """Every live process started for this data directory (by its environment)."""
    needle = f"TIPLINE_DATA_DIR={data_dir}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _redis_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "redis" / "redis.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None


@pytest.fixture(scope="module")
def demo(tmp_path_factory):  # type: ignore[no-untyped-def]
    workdir = tmp_path_factory.mktemp("demo")
    data_dir = workdir / "var"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIPLINE_", "TWILIO_"))}
    env.update(
        TIPLINE_DATA_DIR=str(data_dir),
        TIPLINE_CONFIG_DIR=str(ROOT / "config"),
        TIPLINE_KDF_PROFILE="test",
    )
    log = (workdir / "demo.log").open("w")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tipline.cli", "demo", "--port", str(port)],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("demo did not come up:\n" + (workdir / "demo.log").read_text())
        time.sleep(0.5)
    yield {
        "process": process,
        "base": base,
        "data_dir": data_dir,
        "env": env,
        "workdir": workdir,
        "log": workdir / "demo.log",
    }
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    for pid in _processes_using(data_dir):
        os.kill(pid, signal.SIGKILL)


def _code(demo, email: str) -> str:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "tipline.cli", "demo", "totp", email],
        env=demo["env"], cwd=demo["workdir"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_demo_creates_its_world_with_private_files(demo) -> None:  # type: ignore[no-untyped-def]
    data_dir = demo["data_dir"]
    for name in ("secrets.env", "demo-credentials.json", "demo-recovery-key.txt"):
        mode = stat.S_IMODE((data_dir / name).stat().st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    accounts = json.loads((data_dir / "demo-credentials.json").read_text())
    assert {a["email"] for a in accounts} == {
        "investigator@demo.tipline",
        "north@demo.tipline",
        "supervisor@demo.tipline",
    }
    printed = demo["log"].read_text()
    assert accounts[0]["password"] in printed  # credentials are printed once at first start
    assert (data_dir / "tipline.db").exists()
    assert _redis_pid(data_dir) is not None


def test_a_new_user_sends_a_tip_in_chromium_and_reads_it_as_the_demo_investigator(
    demo, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    require_chromium()
    from playwright.sync_api import sync_playwright

    accounts = {
        a["email"]: a for a in json.loads((demo["data_dir"] / "demo-credentials.json").read_text())
    }
    investigator = accounts["investigator@demo.tipline"]
    text = "Browser canary: a grey pickup unloads crates at the old mill every Tuesday."
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"{demo['base']}/")
            page.select_option("#category", "organized-crime")
            page.select_option("#zone", "on-north")
            page.fill("#description", text)
            page.set_input_files(
                "#attachments",
                files=[
                    {
                        "name": "mill notes.txt",
                        "mimeType": "text/plain",
                        "buffer": b"crates, Tuesday\n",
                    }
                ],
            )
            page.click("button[type=submit]")
            reference = page.text_content("#tip-reference")
            assert reference and re.fullmatch(r"[A-Z0-9]{10}", reference)
            page.screenshot(path=str(tmp_path / "receipt.png"))

            staff = browser.new_page()
            staff.goto(f"{demo['base']}/staff/login")
            staff.fill("#email", investigator["email"])
            staff.fill("#password", investigator["password"])
            staff.fill("#totp", _code(demo, investigator["email"]))
            staff.click("button[type=submit]")
            # The worker routes the tip within moments; reload the queue until it is there.
            deadline = time.monotonic() + 30
            while (
                reference not in (staff.text_content("#queue") or "")
                if staff.query_selector("#queue")
                else True
            ):
                assert time.monotonic() < deadline, "tip never reached the queue"
                time.sleep(0.5)
                staff.reload()
            staff.click(f"text={reference}")
            assert staff.text_content("#tip-description") == text
            assert "mill notes.txt" in (staff.text_content("#tip-attachments") or "")
            with staff.expect_download() as download:
                staff.click("#tip-attachments a")
            assert Path(download.value.path()).read_bytes() == b"crates, Tuesday\n"
            staff.screenshot(path=str(tmp_path / "tip.png"))
            assert all(url.startswith(demo["base"]) for url in requests), requests
        finally:
            browser.close()


def test_the_north_investigator_cannot_open_an_ontario_organized_crime_tip(demo) -> None:  # type: ignore[no-untyped-def]
    """Compartments hold in the demo too: north@ is only in North District — General."""
    import http.cookiejar
    import urllib.parse

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def form(path: str) -> str:
        page = opener.open(f"{demo['base']}{path}").read().decode()
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    def post(path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
        body = urllib.parse.urlencode(data).encode()
        try:
            return opener.open(urllib.request.Request(f"{demo['base']}{path}", data=body))
        except urllib.error.HTTPError as err:
            return err

    receipt = post(
        "/tip",
        {
            "category": "organized-crime",
            "zone": "on-east",
            "description": "Provincial case, not for North.",
            "csrf_token": form("/tip"),
        },
    )
    reference = re.search(r'id="tip-reference">([A-Z0-9]+)<', receipt.read().decode()).group(1)  # type: ignore[union-attr]
    accounts = {
        a["email"]: a for a in json.loads((demo["data_dir"] / "demo-credentials.json").read_text())
    }
    north = accounts["north@demo.tipline"]
    post(
        "/staff/login",
        {
            "email": north["email"],
            "password": north["password"],
            "totp": _code(demo, north["email"]),
            "csrf_token": form("/staff/login"),
        },
    )
    queue = opener.open(f"{demo['base']}/staff/").read().decode()
    assert "Queue" in queue and reference not in queue  # signed in, and the tip is not listed
    try:
        opener.open(f"{demo['base']}/staff/tips/{reference}")
        status = 200
    except urllib.error.HTTPError as err:
        status = err.code
    assert status == 404


def test_a_malformed_request_is_logged_without_the_client_address(demo) -> None:  # type: ignore[no-untyped-def]
    port = int(demo["base"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"NOT A REQUEST\x00\r\n\r\n")
        conn.recv(1024)
    deadline = time.monotonic() + 10
    while "Invalid request" not in demo["log"].read_text():
        assert time.monotonic() < deadline, "gunicorn did not log the bad request"
        time.sleep(0.2)
    log = demo["log"].read_text()
    assert "ip=[address]" in log
    assert "ip=127.0.0.1" not in log


def test_sigterm_stops_everything_and_leaves_no_server(demo) -> None:  # type: ignore[no-untyped-def]
    data_dir = demo["data_dir"]
    redis_pid = _redis_pid(data_dir)
    assert redis_pid and Path(f"/proc/{redis_pid}").exists()
    assert len(_processes_using(data_dir)) >= 4  # demo, worker, scheduler, web (+ gunicorn workers)
    demo["process"].send_signal(signal.SIGTERM)
    assert demo["process"].wait(45) == 0
    time.sleep(0.5)
    assert _processes_using(data_dir) == []
    assert not Path(f"/proc/{redis_pid}").exists()
    assert not (data_dir / "redis" / "redis.sock").exists()
    assert "demo stopped" in demo["log"].read_text()


def test_nothing_the_demo_wrote_holds_tip_text_or_client_addresses(demo) -> None:  # type: ignore[no-untyped-def]
    """Runs after the browser test: the web server, worker, scheduler and bundled Redis
    have all written their logs and files by now."""
    written = demo["log"].read_bytes() + b"".join(
        p.read_bytes() for p in demo["data_dir"].rglob("*") if p.is_file() and p.suffix != ".db"
    )
    database = b"".join(p.read_bytes() for p in demo["data_dir"].glob("tipline.db*"))
    assert b"Tipline demo is running" in written  # we are reading the real log
    for blob in (written, database):
        assert b"Browser canary" not in blob
        assert b"Provincial case, not for North" not in blob
    log = demo["log"].read_text()
    # No access-log line (they start with the client address) and no request lines.
    assert "127.0.0.1 -" not in log and "ip=127.0.0.1" not in log
    assert "POST /tip" not in log and "GET /staff" not in log
