"""Start-up mistakes (`iot-emulator serve`, run as users run it): each ends in one or two lines
naming the setting or file, the entry and the cause, with exit status 2; no traceback. A
PostgreSQL server that cannot be reached is waited for, visibly, for EMULATOR_DB_WAIT."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from emulator.testing import free_port
from tests.conftest import DATABASE_URL, postgresql_skip_reason
from tests.processes import start


def failed_start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """The output lines of ``python -m emulator serve ARGS``, which must exit with status 2."""
    process = start(["serve", *args], cwd=cwd, env=env)
    output = process.communicate(timeout=120)[0].decode()
    lines = [line for line in output.splitlines() if line.strip()]
    assert process.returncode == 2, output
    assert "Traceback" not in output
    assert 1 <= len(lines) <= 2, output
    return lines


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        pytest.param(["--db", "adir"], {}, "--db adir: is a directory", id="db-directory"),
        pytest.param(
            ["--db", "notes.txt"],
            {},
            "--db notes.txt: is not an SQLite database",
            id="db-not-a-database",
        ),
        pytest.param(
            ["--db", "missing/state.db"],
            {},
            "--db missing/state.db: cannot create the SQLite file: directory 'missing' does not"
            " exist",
            id="db-in-a-missing-directory",
        ),
        pytest.param(
            ["--db", "postgresql+psycopg://user:pw@db:port/emulator"],
            {},
            "--db postgresql+psycopg://user:***@db:port/emulator: not a database URL",
            id="unparseable-url",
        ),
        pytest.param(
            ["--db", "postgres://user@db/emulator"],
            {},
            "--db postgres://user@db/emulator: unknown scheme 'postgres://': SQLAlchemy spells "
            "PostgreSQL 'postgresql+psycopg://user@host:port/dbname'",
            id="postgres-scheme",
        ),
        pytest.param(
            ["--db", ":memory:", "--workers", "2"],
            {},
            "--workers 2 cannot share --db :memory:",
            id="workers-with-memory",
        ),
        pytest.param(
            [],
            {"EMULATOR_DB": ":memory:", "EMULATOR_WORKERS": "3"},
            "EMULATOR_WORKERS 3 cannot share EMULATOR_DB :memory:",
            id="workers-with-memory-env",
        ),
        pytest.param(
            ["--port", "70000"],
            {},
            "--port 70000: Input should be less than or equal to 65535",
            id="port-out-of-range",
        ),
        pytest.param(
            [],
            {"EMULATOR_PORT": "http"},
            "EMULATOR_PORT='http': Input should be a valid integer",
            id="bad-env-value",
        ),
        pytest.param(
            [],
            {"EMULATOR_MAX_BODY_BYTES": "0"},
            "EMULATOR_MAX_BODY_BYTES='0': Input should be greater than or equal to 1",
            id="bad-env-limit",
        ),
        pytest.param(
            [],
            {"EMULATOR_LOG_FORMAT": "xml"},
            "EMULATOR_LOG_FORMAT='xml': Input should be 'text' or 'json'",
            id="bad-log-format",
        ),
        pytest.param(
            ["--db", ":memory:", "--fixtures", "twice.yaml"],
            {},
            "invalid fixtures: twice.yaml: quectel.products[1]: productKey 'PK1' is defined twice"
            " (also quectel.products[0])",
            id="product-key-twice",
        ),
        pytest.param(
            ["--db", ":memory:", "--fixtures", "two-orgs.yaml"],
            {},
            "invalid fixtures: two-orgs.yaml: two entries make the same database row",
            id="product-key-in-two-orgs",
        ),
    ],
)
def test_a_start_up_mistake_is_one_line_and_exit_status_2(
    tmp_path: Path, args: list[str], env: dict[str, str], said: str
) -> None:
    (tmp_path / "adir").mkdir()
    (tmp_path / "notes.txt").write_text("not a database\n")
    (tmp_path / "twice.yaml").write_text(
        "quectel:\n  products:\n    - {productKey: PK1}\n    - {productKey: PK1, name: again}\n"
    )
    (tmp_path / "two-orgs.yaml").write_text(
        "enos:\n  orgs:\n    - {orgId: a, products: [{productKey: P}]}\n"
        "    - {orgId: b, products: [{productKey: P}]}\n"
    )

    lines = failed_start(args, tmp_path, env)

    assert lines[-1].startswith(f"iot-emulator: {said}")


def test_the_postgresql_driver_missing_names_the_extra(tmp_path: Path) -> None:
    # psycopg is installed here: the import is made to fail as it does where it is not.
    code = (
        "import sys; sys.modules['psycopg'] = None; sys.argv[0] = 'iot-emulator'; "
        "from emulator.cli import main; main()"
    )
    process = subprocess.run(
        [sys.executable, "-c", code, "serve", "--db", "postgresql+psycopg://u@127.0.0.1/db"],
        cwd=tmp_path, capture_output=True, timeout=120,
    )  # fmt: skip

    assert process.returncode == 2
    assert process.stderr.decode().splitlines() == [
        "iot-emulator: --db postgresql+psycopg://u@127.0.0.1/db: the database driver is not "
        "installed (psycopg): pip install 'iot-emulator[postgres]'"
    ]


def test_an_unreachable_postgresql_is_waited_for_then_named(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: connection refused
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"

    lines = failed_start(["--db", url], tmp_path, {"EMULATOR_DB_WAIT": "1"})

    assert lines[0].endswith(
        f"waiting for PostgreSQL at 127.0.0.1:{port} (up to 1 s, EMULATOR_DB_WAIT): "
        "Connection refused"
    )
    assert lines[1] == (
        f"iot-emulator: --db {url}: PostgreSQL at 127.0.0.1:{port} is not reachable after "
        "waiting 1 s (EMULATOR_DB_WAIT): Connection refused"
    )


@pytest.mark.skipif(postgresql_skip_reason() is not None, reason=str(postgresql_skip_reason()))
def test_a_role_postgresql_refuses_is_named_at_once(tmp_path: Path) -> None:
    assert DATABASE_URL is not None
    server = make_url(DATABASE_URL)
    url = server.set(username="no_such_role", password=None).render_as_string()
    where = f"{server.host}:{server.port or 5432}"

    # A refusal is final: no wait, even with a long one allowed.
    lines = failed_start(["--db", url], tmp_path, {"EMULATOR_DB_WAIT": "600"})

    assert lines == [
        f'iot-emulator: --db {url}: PostgreSQL at {where} refused: FATAL: role "no_such_role" '
        "does not exist"
    ]


# Libraries an app loads only when something uses them: amqtt when an MQTT listener starts
# (serve's lifespan; the pytest plugin's server runs without one), pycryptodome at a Quectel
# login with an encrypted password, prometheus-client at the first request counted or scrape.
ON_DEMAND = ("amqtt", "transitions", "Crypto", "prometheus_client")


def test_an_app_up_and_healthy_loads_no_library_it_has_not_used_yet() -> None:
    script = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from emulator.app import create_app\n"
        "from emulator.config import Settings\n"
        "app = create_app(Settings(db=':memory:'))\n"
        "assert TestClient(app).get('/_emulator/health').status_code == 200\n"
        f"print(sorted(m for m in {ON_DEMAND!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


def test_an_app_serves_the_routes_as_declared_without_building_them_again() -> None:
    # FastAPI builds an included router's routes a second time at the first request that
    # passes them (core/routing.py include): about 80 ms before a new app's first answer.
    from emulator.app import create_app
    from emulator.config import Settings
    from emulator.control.routes import router as control_router

    app = create_app(Settings(db=":memory:"))
    assert [r for r in app.router.routes if hasattr(r, "original_router")] == []
    assert all(route in app.router.routes for route in control_router.routes)
