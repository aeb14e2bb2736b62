"""The container deployment: docker-compose.yml, Dockerfile, .dockerignore, .env.example.

Pure file checks (no Docker engine is needed): they pin what the deployment promises —
the six services and their roles, health checks and start order, required secrets that
are never written into the file, Redis that never persists, PostgreSQL and Redis that
are not published, scalable web and worker replicas, and an image that installs the
project and runs as an unprivileged user.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
PYPROJECT = ROOT / "pyproject.toml"

SERVICES = {"postgres", "redis", "migrate", "web", "worker", "scheduler"}
APP_SERVICES = ("migrate", "web", "worker", "scheduler")
LONG_RUNNING = ("postgres", "redis", "web", "worker", "scheduler")
SECRETS = ("TIPLINE_SECRET_KEY", "TIPLINE_RELAY_KEY", "TIPLINE_PEPPER")
APP_COMMANDS = {
    "web": ["tipline", "serve"],
    "worker": ["tipline", "worker"],
    "scheduler": ["tipline", "scheduler"],
    "migrate": ["tipline", "db", "upgrade"],
}
# ${NAME:?message} — compose fails at start, with the message, when NAME is unset/empty.
REQUIRED_INTERPOLATION = re.compile(r"^\$\{(?P<name>[A-Z][A-Z0-9_]*):\?(?P<msg>[^}]+)\}$")
ANY_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}")


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())  # safe_load resolves `<<` merge keys
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def argv(command: str | list[str]) -> list[str]:
    """A compose command/test in either form, as the argument vector compose runs."""
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def mapping_value(node: yaml.Node, key: str) -> yaml.Node:
    assert isinstance(node, yaml.MappingNode)
    for key_node, value_node in node.value:
        if key_node.value == key:
            return value_node
    raise KeyError(key)


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in env)
        return {key: value for key, value in pairs}
    return {key: (None if value is None else str(value)) for key, value in env.items()}


def container_port(spec: str | int | dict[str, Any]) -> int:
    """Container port of a `ports:` entry (short or long syntax)."""
    if isinstance(spec, dict):
        return int(str(spec["target"]).split("/")[0])
    text = str(spec).split("/")[0]
    return int(text.rsplit(":", 1)[-1].split("-")[0])


def seconds(duration: str | int) -> float:
    """A compose duration (`60s`, `1m30s`, `500ms`) in seconds."""
    if isinstance(duration, int):
        return float(duration)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"bad duration {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # comment lines inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    result = []
    for entry in logical:
        instruction, _, args = entry.partition(" ")
        result.append((instruction.upper(), args.strip()))
    return result


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


# --- services and roles -------------------------------------------------------------------


def test_the_six_services_exist(services: dict[str, Any]) -> None:
    assert set(services) == SERVICES


def test_backing_services_use_the_pinned_images(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_runs_its_tipline_command(services: dict[str, Any], name: str) -> None:
    command = argv(services[name]["command"])
    expected = APP_COMMANDS[name]
    assert command[: len(expected)] == expected, f"{name} runs {command}"
    if name != "web":  # only web takes options (bind address, worker count)
        assert command == expected


def test_web_binds_all_interfaces_on_the_published_container_port(
    services: dict[str, Any],
) -> None:
    command = argv(services["web"]["command"])
    assert "--bind" in command
    bind = command[command.index("--bind") + 1]
    assert bind == "0.0.0.0:8000"
    assert command[command.index("--workers") + 1] == "2"
    assert services["web"]["ports"] == ["${TIPLINE_WEB_PORT:-8000}:8000"]
    assert [container_port(p) for p in services["web"]["ports"]] == [8000]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_share_the_tipline_anchor(compose: dict[str, Any], name: str) -> None:
    shared = compose["x-tipline"]
    service = compose["services"][name]
    assert shared["build"] == "."
    assert shared["image"] == "tipline:latest"
    for key in ("build", "image", "env_file", "volumes", "environment"):
        assert service[key] == shared[key], f"{name}.{key} differs from x-tipline"
    # In the node graph an alias is the anchored node itself: the service must merge
    # (`<<: *tipline`) exactly the node anchored at x-tipline, not a copy of it.
    root = yaml.compose(COMPOSE_FILE.read_text(), Loader=yaml.SafeLoader)
    anchor = mapping_value(root, "x-tipline")
    assert re.search(r"^x-tipline: &tipline\s*$", COMPOSE_FILE.read_text(), re.MULTILINE)
    service_node = mapping_value(mapping_value(root, "services"), name)
    merged = [v for k, v in service_node.value if k.tag == "tag:yaml.org,2002:merge"]
    assert merged and merged[0] is anchor, f"{name} does not merge <<: *tipline"


def test_env_file_is_required(compose: dict[str, Any]) -> None:
    env_file = compose["x-tipline"]["env_file"]
    assert env_file == [{"path": ".env", "required": True}]


def test_migrate_runs_once(services: dict[str, Any]) -> None:
    assert services["migrate"]["restart"] == "no"
    assert "healthcheck" not in services["migrate"]
    for name in LONG_RUNNING:
        assert services[name].get("restart") in ("unless-stopped", "always"), name


# --- health checks and start order ----------------------------------------------------------


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_a_healthcheck(services: dict[str, Any], name: str) -> None:
    check = services[name].get("healthcheck")
    assert check and not check.get("disable"), f"{name} has no healthcheck"
    test = check["test"]
    assert test, f"{name} healthcheck has an empty test"
    if isinstance(test, list):
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("postgres", ["pg_isready", "-U", "tipline", "-d", "tipline"]),
        ("redis", ["redis-cli", "ping"]),
        ("worker", ["tipline", "worker", "--check"]),
        ("scheduler", ["tipline", "scheduler", "--check"]),
    ],
)
def test_healthcheck_commands(services: dict[str, Any], name: str, expected: list[str]) -> None:
    test = services[name]["healthcheck"]["test"]
    if test[0] == "CMD-SHELL":
        assert argv(test[1]) == expected
    else:
        assert test[0] == "CMD"
        assert test[1:] == expected


def test_web_healthcheck_gets_healthz_and_fails_on_non_200(services: dict[str, Any]) -> None:
    test = services["web"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert test[1:3] == ["python", "-c"]
    code = test[3]
    compile(code, "<healthcheck>", "exec")  # it must at least be valid Python
    assert "urllib" in code
    assert "http://127.0.0.1:8000/healthz" in code
    assert "200" in code and "sys.exit" in code


@pytest.mark.parametrize("name", ("web", "worker", "scheduler"))
def test_long_running_app_services_wait_for_healthy_backends_and_migration(
    services: dict[str, Any], name: str
) -> None:
    depends = services[name]["depends_on"]
    assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_migrate_waits_for_healthy_postgres(services: dict[str, Any]) -> None:
    depends = services["migrate"]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"


def test_every_dependency_is_a_defined_service(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"


# --- environment and secrets -----------------------------------------------------------------


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_get_database_redis_and_public_url(
    services: dict[str, Any], name: str
) -> None:
    env = environment(services[name])
    database_url = env["TIPLINE_DATABASE_URL"]
    assert database_url
    match = re.fullmatch(
        r"postgresql\+psycopg://(?P<user>[^:@/]+):(?P<password>[^@]+)@(?P<host>[^:/]+):5432/(?P<db>\w+)",
        database_url,
    )
    assert match, database_url
    assert match["host"] == "postgres"
    postgres_env = environment(services["postgres"])
    assert match["user"] == postgres_env["POSTGRES_USER"] == "tipline"
    assert match["db"] == postgres_env["POSTGRES_DB"] == "tipline"
    assert match["password"] == "${POSTGRES_PASSWORD}", "the DB password must come from .env"

    redis_url = env["TIPLINE_REDIS_URL"]
    assert redis_url and re.fullmatch(r"redis://redis:6379/\d+", redis_url), redis_url

    public = REQUIRED_INTERPOLATION.match(env["TIPLINE_PUBLIC_URL"] or "")
    assert public and public["name"] == "TIPLINE_PUBLIC_URL"


@pytest.mark.parametrize("name", APP_SERVICES)
@pytest.mark.parametrize("secret", SECRETS)
def test_secrets_are_required_interpolations(
    services: dict[str, Any], name: str, secret: str
) -> None:
    value = environment(services[name]).get(secret)
    assert value, f"{name} does not get {secret}"
    match = REQUIRED_INTERPOLATION.match(value)
    assert match, f"{name}.{secret} must be ${{{secret}:?message}}, got {value!r}"
    assert match["name"] == secret
    assert match["msg"].strip()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_twilio_settings_pass_through(services: dict[str, Any], name: str) -> None:
    env = environment(services[name])
    for variable in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):
        value = env.get(variable, "missing")
        # From .env / the shell, never a value written into the compose file.
        assert value is None or re.fullmatch(rf"\$\{{{variable}(:?-)?\}}", value), (
            f"{name}.{variable} = {value!r}"
        )


def test_postgres_password_is_required_and_not_literal(services: dict[str, Any]) -> None:
    env = environment(services["postgres"])
    assert env["POSTGRES_DB"] == "tipline"
    assert env["POSTGRES_USER"] == "tipline"
    match = REQUIRED_INTERPOLATION.match(env["POSTGRES_PASSWORD"] or "")
    assert match and match["name"] == "POSTGRES_PASSWORD"


def test_no_literal_secret_anywhere(services: dict[str, Any]) -> None:
    secretish = re.compile(r"(SECRET|PASSWORD|TOKEN|PEPPER|_KEY$)")
    for name, service in services.items():
        for key, value in environment(service).items():
            if not secretish.search(key):
                continue
            assert value is None or re.fullmatch(r"\$\{[A-Z0-9_]+(:[?-][^}]*)?\}", value), (
                f"{name}.{key} has a literal value in docker-compose.yml"
            )


# --- volumes, persistence, exposure, scaling --------------------------------------------------


def test_volumes_are_declared_and_mounted(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    assert {"pgdata", "tipline-data"} <= declared
    services = compose["services"]
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    for name in APP_SERVICES:
        assert "tipline-data:/var/lib/tipline" in services[name]["volumes"]
    for name, service in services.items():
        for mount in service.get("volumes") or []:
            source = mount["source"] if isinstance(mount, dict) else mount.split(":", 1)[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} mounts undeclared volume {source}"


def test_redis_does_not_persist(services: dict[str, Any]) -> None:
    redis = services["redis"]
    command = argv(redis["command"])
    assert command[0] == "redis-server"
    assert "--save" in command and command[command.index("--save") + 1] == ""
    assert "--appendonly" in command and command[command.index("--appendonly") + 1] == "no"
    # no named volume or bind mount where Redis could leave state on disk
    assert not redis.get("volumes"), "Redis must not have a persistent volume"


def test_postgres_and_redis_are_not_published(services: dict[str, Any]) -> None:
    assert not services["postgres"].get("ports")
    assert not services["redis"].get("ports")
    for name, service in services.items():
        assert service.get("network_mode") != "host", name
        for spec in service.get("ports") or []:
            assert container_port(spec) not in (5432, 6379), f"{name} publishes {spec}"


def test_backends_are_reachable_by_the_app_services(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    def networks(service: dict[str, Any]) -> set[str]:
        value = service.get("networks") or ["default"]
        return set(value)

    for backend in ("postgres", "redis"):
        for name in APP_SERVICES:
            assert networks(services[backend]) & networks(services[name]), (
                f"{name} cannot reach {backend}"
            )
    declared = set(compose.get("networks") or {}) | {"default"}
    for name, service in services.items():
        assert networks(service) <= declared, f"{name} uses an undeclared network"


@pytest.mark.parametrize("name", ("web", "worker", "scheduler"))
def test_replicas_are_scalable(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert "container_name" not in service, f"{name} with container_name cannot scale"
    # `tipline worker --check` looks for a worker registered under this container's
    # hostname: a fixed hostname would make every replica look healthy.
    assert "hostname" not in service
    deploy = service.get("deploy") or {}
    assert deploy.get("replicas", 1) >= 1


def test_worker_gets_time_to_finish_jobs(services: dict[str, Any]) -> None:
    assert seconds(services["worker"]["stop_grace_period"]) >= 60


def test_scaling_note_for_web_port() -> None:
    text = COMPOSE_FILE.read_text()
    web_block = re.search(r"((?:^ *#.*\n)+)  web:\n", text, re.MULTILINE)
    assert web_block, "web needs a comment on scaling behind a proxy"
    comment = web_block.group(1).lower()
    assert "proxy" in comment and "scale" in comment


# --- the command line the compose file relies on ------------------------------------------


def test_tipline_console_script_is_declared() -> None:
    project = tomllib.loads(PYPROJECT.read_text())
    assert project["project"]["scripts"]["tipline"] == "tipline.cli:main"


def test_compose_only_uses_tipline_commands(services: dict[str, Any]) -> None:
    """Every app service and app healthcheck runs the installed `tipline` script."""
    for name in APP_SERVICES:
        assert argv(services[name]["command"])[0] == "tipline"
    for name in ("worker", "scheduler"):
        assert services[name]["healthcheck"]["test"][1] == "tipline"


# --- .env.example ------------------------------------------------------------------------


def test_env_example_lists_every_compose_variable_with_a_comment() -> None:
    text = COMPOSE_FILE.read_text()
    used = {m["name"] for m in ANY_INTERPOLATION.finditer(text)}
    assert {"POSTGRES_PASSWORD", "TIPLINE_PUBLIC_URL", *SECRETS} <= used
    example = env_example()
    missing = used - set(example)
    assert not missing, f".env.example lacks {sorted(missing)}"
    lines = ENV_EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            assert index > 0 and lines[index - 1].startswith("#"), f"no comment above {line}"


def test_env_example_leaves_secrets_blank_with_the_generator() -> None:
    example = env_example()
    for name in (*SECRETS, "POSTGRES_PASSWORD", "TWILIO_AUTH_TOKEN"):
        assert example[name] == "", f"{name} must be blank in .env.example"
    # required values start blank so compose refuses to start until they are filled in
    assert example["TIPLINE_PUBLIC_URL"] == ""
    text = ENV_EXAMPLE.read_text()
    assert (
        'python -c "import secrets,base64;'
        'print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"' in text
    )


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?message}` substitution."""

    def substitute(match: re.Match[str]) -> str:
        name, rest = match["name"], match["rest"]
        current = variables.get(name, "")
        if rest.startswith(":?"):
            if not current:
                raise LookupError(f"{name}: {rest[2:]}")
            return current
        if rest.startswith(":-"):
            return current or rest[2:]
        assert rest == "", f"unsupported interpolation {match.group(0)}"
        return current

    return ANY_INTERPOLATION.sub(substitute, value)


def test_compose_refuses_to_start_with_the_blank_example() -> None:
    example = env_example()
    web = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["web"]
    with pytest.raises(LookupError):
        for value in environment(web).values():
            interpolate(value or "", example)


def test_filled_in_example_gives_valid_settings(services: dict[str, Any]) -> None:
    """.env.example, filled in as it says, plus the compose environment and the image's
    ENV, is accepted by tipline's settings and points at the compose services."""
    import base64
    import secrets

    from tipline.settings import load_settings

    filled = env_example()
    for name in SECRETS:
        filled[name] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    filled["POSTGRES_PASSWORD"] = secrets.token_urlsafe(32)
    filled["TIPLINE_PUBLIC_URL"] = "https://tips.example.org"

    image_env = {}
    for op, args in dockerfile_instructions():
        if op == "ENV":
            image_env.update(part.split("=", 1) for part in shlex.split(args) if "=" in part)
    container = {**image_env, **filled}  # env_file: .env
    for key, value in environment(services["worker"]).items():
        container[key] = interpolate(value or "", filled)

    settings = load_settings(container)
    assert settings.database_url == (
        f"postgresql+psycopg://tipline:{filled['POSTGRES_PASSWORD']}@postgres:5432/tipline"
    )
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.public_url == "https://tips.example.org"
    assert settings.secret_key == base64.urlsafe_b64decode(filled["TIPLINE_SECRET_KEY"])
    assert str(settings.data_dir) == "/var/lib/tipline"
    assert str(settings.config_dir) == "/app/config"
    assert str(settings.keys_dir) == "/app/keys"
    assert settings.twilio_account_sid is None  # blank in the example: SMS replies logged


# --- Dockerfile and .dockerignore -------------------------------------------------------------


def test_dockerfile_installs_the_project_non_editable() -> None:
    instructions = dockerfile_instructions()
    froms = [args for op, args in instructions if op == "FROM"]
    assert froms and all(f.split()[0] == "python:3.11-slim" for f in froms), froms
    runs = [args for op, args in instructions if op == "RUN"]
    installs = [r for r in runs if re.search(r"\bpip install\b[^&;|]*\s\.(\s|$)", r)]
    assert installs, "the Dockerfile must `pip install .`"
    assert not any(re.search(r"pip install\s+(-e|--editable)\b", r) for r in runs)
    copies = [args for op, args in instructions if op == "COPY"]
    assert any(c.split()[0] == "pyproject.toml" or c.startswith(". ") for c in copies)


def test_dockerfile_does_not_run_as_root() -> None:
    users = [args for op, args in dockerfile_instructions() if op == "USER"]
    assert users, "the Dockerfile has no USER: the container would run as root"
    final = users[-1].split(":")[0]
    assert final not in ("root", "0", ""), f"final USER is {users[-1]!r}"


def test_dockerfile_layout_and_environment() -> None:
    instructions = dockerfile_instructions()
    workdirs = [args for op, args in instructions if op == "WORKDIR"]
    assert workdirs[-1] == "/app"
    copies = [args.split() for op, args in instructions if op == "COPY"]
    destinations = {tuple(c[-2:]) for c in copies}
    assert ("config/", "/app/config/") in destinations or ("config", "/app/config") in destinations
    assert ("keys/", "/app/keys/") in destinations or ("keys", "/app/keys") in destinations
    env_text = " ".join(args for op, args in instructions if op == "ENV")
    for expected in (
        "TIPLINE_CONFIG_DIR=/app/config",
        "TIPLINE_KEYS_DIR=/app/keys",
        "TIPLINE_DATA_DIR=/var/lib/tipline",
        "PYTHONUNBUFFERED=1",
    ):
        assert expected in env_text, expected
    volumes = " ".join(args for op, args in instructions if op == "VOLUME")
    assert "/var/lib/tipline" in volumes


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".git", "var", ".venv", "**/__pycache__", "*.env", ".env", "secrets"):
        assert required in patterns, f".dockerignore lacks {required}"
    # what the image build needs must stay in the context
    for needed in ("pyproject.toml", "README.md", "tipline", "workers", "config", "keys"):
        assert needed not in patterns and f"{needed}/" not in patterns, needed
