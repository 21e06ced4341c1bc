"""The command line: ``iot-emulator serve`` and ``fleet`` (also ``python -m emulator ...``).

Options default to ``None`` and override :class:`Settings`, which owns the ``EMULATOR_*``
variables, so each option is defined once and works both ways.
"""

from __future__ import annotations

import logging
import logging.config
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from fastapi import FastAPI
from pydantic import ValidationError
from pydantic_settings import SettingsError

from emulator import __version__
from emulator.config import Settings
from emulator.core.fixtures import FixtureError
from emulator.core.logs import LogFormat, LogSettings, flush_logs, log_config
from emulator.core.vendor import names as vendor_names
from emulator.core.vendor import vendors

logger = logging.getLogger("emulator.cli")

F = TypeVar("F", bound=Callable[..., Any])


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=(
        "Every option is also an EMULATOR_* variable (EMULATOR_PORT, EMULATOR_DB, ...). "
        "Run 'iot-emulator COMMAND --help' for a command's options."
    ),
)
@click.version_option(__version__, "-V", "--version", prog_name="iot-emulator")
def main() -> None:
    """iot-emulator: the Quectel, EnOS and MediaTek MCS device APIs, offline.

    Serves five documented vendor HTTP APIs (Quectel createBatch and batchControlDevice, EnOS
    create device and DPS allocate, MCS registerDevice) with their token endpoints, plus a
    control plane under /_emulator (health, reset, devices, faults, metrics).
    """


def _db_option(help_text: str) -> Callable[[F], F]:
    return click.option("--db", default=None, metavar="PATH|URL", help=help_text)


def _fixtures_option() -> Callable[[F], F]:
    return click.option(
        "--fixtures",
        multiple=True,
        type=click.Path(path_type=Path),
        help=(
            "Fixture file (repeatable).  "
            "[env EMULATOR_FIXTURES, comma-separated; default fixtures/default.yaml]"
        ),
    )


@main.command(
    short_help="Start the emulator.",
    epilog=(
        "Examples:\n\n"
        "\b\n"
        "  iot-emulator serve\n"
        "  iot-emulator serve --port 18080 --db :memory: --auth strict --seed 42\n"
        "  EMULATOR_LOG_FORMAT=json iot-emulator serve --no-access-log --workers 4"
    ),
)
@click.option(
    "--host", default=None, help="Address to bind.  [env EMULATOR_HOST; default 127.0.0.1]"
)
@click.option("--port", type=int, default=None, help="Port.  [env EMULATOR_PORT; default 8080]")
@_db_option(
    "SQLite file, ':memory:' or an SQLAlchemy URL.  [env EMULATOR_DB; default ./emulator.db]"
)
@click.option(
    "--db-wait",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Wait this long for a PostgreSQL server that cannot be reached yet.  "
    "[env EMULATOR_DB_WAIT; default 30]",
)
@_fixtures_option()
@click.option(
    "--auth",
    type=click.Choice(["off", "lenient", "strict"]),
    default=None,
    help="Credential checks.  [env EMULATOR_AUTH; default lenient]",
)
@click.option(
    "--seed", type=int, default=None, help="Seed for ids, keys and secrets.  [env EMULATOR_SEED]"
)
@click.option(
    "--workers", type=int, default=None, help="Worker processes.  [env EMULATOR_WORKERS; default 1]"
)
@click.option(
    "--mqtt-port",
    type=int,
    default=None,
    help="Port of the devices' MQTT listener, on --host.  [env EMULATOR_MQTT_PORT; default 11883]",
)
@click.option(
    "--mqtt/--no-mqtt",
    default=None,
    help="Let devices log in over MQTT.  [env EMULATOR_MQTT; default on]",
)
@click.option(
    "--admin-token",
    default=None,
    metavar="TOKEN",
    help="Require this token on the control plane (/_emulator/*, all but health), as "
    "'Authorization: Bearer TOKEN'.  [env EMULATOR_ADMIN_TOKEN]",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default=None,
    help="Log level.  [env EMULATOR_LOG_LEVEL; default info]",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Plain text, or one JSON object per line.  [env EMULATOR_LOG_FORMAT; default text]",
)
@click.option(
    "--access-log/--no-access-log",
    default=None,
    help="Log every request.  [env EMULATOR_ACCESS_LOG; default on]",
)
def serve(
    log_format: LogFormat | None, access_log: bool | None, **options: Any
) -> None:  # fmt: skip
    """Start the emulator (stops cleanly on SIGTERM or Ctrl-C: requests in flight finish)."""
    overrides = {k: v for k, v in options.items() if v not in (None, ())}
    log_overrides: dict[str, Any] = {
        k: v for k, v in (("log_format", log_format), ("access_log", access_log)) if v is not None
    }
    given = {*overrides, *log_overrides}
    settings = _settings(Settings, overrides, given)
    logs = _settings(LogSettings, log_overrides, given)
    if settings.workers > 1 and settings.db == ":memory:":
        fail(
            f"{setting_name('workers', given)} {settings.workers} cannot share "
            f"{setting_name('db', given)} :memory: (each worker would have its own empty "
            "database): name an SQLite file or a PostgreSQL URL"
        )
    run(settings, logs, given)


S = TypeVar("S", Settings, LogSettings)


def _settings(kind: type[S], overrides: dict[str, Any], given: set[str]) -> S:
    """Settings from the options and the environment; a bad value ends the command with one
    line naming the option or variable it came from."""
    try:
        return kind(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        fail(f"{_said(field, first['input'], given)}: {first['msg']}{more}")
    except SettingsError as exc:
        fail(str(exc))


def setting_name(field: str, given: set[str]) -> str:
    """How the user wrote a setting: its option when given on the command line, else its
    ``EMULATOR_*`` variable (set or defaulted)."""
    return f"--{field.replace('_', '-')}" if field in given else f"EMULATOR_{field.upper()}"


def _said(field: str, value: Any, given: set[str]) -> str:
    """A setting and its value as the user wrote them: ``--port 70000``, ``EMULATOR_PORT='x'``."""
    name = setting_name(field, given)
    return f"{name} {value}" if field in given else f"{name}={value!r}"


def fail(message: str) -> NoReturn:
    """Ends the command with one line on stderr and exit status 2 (a usage error)."""
    click.echo(f"iot-emulator: {message}", err=True)
    sys.exit(2)


def run(settings: Settings, logs: LogSettings | None = None, given: set[str] | None = None) -> None:
    import uvicorn

    from emulator import server
    from emulator.core.metrics import MULTIPROC_ENV

    logs = logs or LogSettings()
    config = log_config(settings.log_level, logs.log_format)
    logging.config.dictConfig(config)
    common: dict[str, Any] = {
        **server.uvicorn_options(settings),
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "log_config": config,
        "access_log": logs.access_log,
    }
    with _startup_errors(settings, given or set()):
        app = serving_app(settings)
    _announce(settings)
    if settings.workers == 1:
        uvicorn.run(app, **common)
        return
    # The fixtures are valid (checked above, once); each worker builds its own app.
    app.state.emulator.engine.dispose()
    # Worker processes build their own app from the environment: hand the settings over there.
    os.environ.update(settings_environment(settings))
    # Each worker counts requests in files of this directory; a scrape adds them all up.
    metrics_dir = None
    if not os.environ.get(MULTIPROC_ENV):
        metrics_dir = tempfile.mkdtemp(prefix="iot-emulator-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    try:
        uvicorn.run("emulator.cli:serving_app", factory=True, workers=settings.workers, **common)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def serving_app(settings: Settings | None = None) -> FastAPI:
    """The app as ``serve`` runs it: once started, the garbage collector is tuned for serving
    (``server.settle_heap``); on shutdown (SIGTERM, Ctrl-C), once uvicorn has let the
    requests in flight finish, the database pool closes, so SQLite folds its write-ahead log
    into the database file before the process exits."""
    from emulator import server
    from emulator.app import create_app

    settings = settings or Settings()
    # A worker of --workers N builds its app here: its connections get the same timeouts.
    server.configure(settings)
    app = create_app(settings)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(target: Any) -> AsyncIterator[Any]:
        async with inner(target) as state:
            server.settle_heap()
            yield state
        app.state.emulator.dispose()
        # Now: uvicorn ends the process by raising the signal again, which skips the flush
        # logging does at exit, and access lines are written in batches (core/logs.py).
        flush_logs()

    app.router.lifespan_context = lifespan
    return app


@contextmanager
def _startup_errors(settings: Settings, given: set[str]) -> Iterator[None]:
    """The fixtures or the database unusable: one line naming the file or setting, and the
    cause; exit status 2."""
    from emulator.core.db_open import DatabaseOpenError, shown

    try:
        yield
    except FixtureError as exc:
        fail(f"invalid fixtures: {exc}")
    except DatabaseOpenError as exc:
        fail(f"{setting_name('db', given)} {shown(settings.db)}: {exc}")


def _announce(settings: Settings) -> None:
    from emulator.core.db_open import shown

    logger.info(
        "iot-emulator %s on http://%s:%s (db %s, auth %s, workers %s)",
        __version__, settings.host, settings.port, shown(settings.db), settings.auth,
        settings.workers,
    )  # fmt: skip
    if settings.mqtt:
        logger.info("devices over MQTT on tcp://%s:%s", settings.host, settings.mqtt_port)
    warning = bind_warning(settings)
    if warning:
        logger.warning("%s", warning)


def bind_warning(settings: Settings) -> str | None:
    """Binding beyond loopback with no admin token opens the control plane (reset, state
    import, faults) to the network: say so."""
    from emulator.control.auth import is_loopback

    if is_loopback(settings.host) or settings.admin_token:
        return None
    return (
        f"listening on {settings.host} without an admin token: anyone who reaches this port "
        "can reset, import state and arm faults through /_emulator; set --admin-token "
        "(EMULATOR_ADMIN_TOKEN) or bind 127.0.0.1"
    )


def settings_environment(settings: Settings) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        env[f"EMULATOR_{name.upper()}"] = str(value)
    return env


class VendorChoice(click.Choice[str]):
    """The registered vendors, read when the option is parsed: a vendor registered after this
    module was imported (a test's) is a valid choice too."""

    def __init__(self) -> None:
        super().__init__([])

    @property
    def choices(self) -> tuple[str, ...]:
        return vendor_names()

    @choices.setter
    def choices(self, value: object) -> None:
        pass


def _fleet_examples() -> str:
    examples = "".join(
        f"  iot-emulator fleet --vendor {v.name} --product {v.example_product} --count 1000\n"
        for v in vendors()
        if v.example_product
    )
    return (
        "Examples:\n\n\b\n" + examples + "\n"
        "The emulator may be stopped or running on the same SQLite file (WAL mode lets it "
        "answer between two batches). Devices are named <prefix><number>; a second run with "
        "the same prefix continues the numbering. A product's device quota (where its vendor has "
        "one) is raised to fit the fleet."
    )


class FleetCommand(click.Command):
    """Its examples come from the registered vendors, read when the help is shown (loading
    the vendors costs seconds that ``iot-emulator --version`` should not pay)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.epilog = _fleet_examples()
        super().format_epilog(ctx, formatter)


@main.command(
    cls=FleetCommand,
    short_help="Add many devices to an emulator's database (demos, load tests).",
)
@click.option(
    "--vendor",
    type=VendorChoice(),
    required=True,
    help="Vendor of the devices.",
)
@click.option(
    "--product",
    "product_key",
    required=True,
    metavar="KEY",
    help="Product key (the vendor's product id); it must exist in the namespace (fixtures).",
)
@click.option(
    "--count", type=click.IntRange(min=1), required=True, help="Number of devices to add."
)
@click.option(
    "--online",
    "online_share",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Share of the devices whose simulated twin is online (0 to 1).",
)
@click.option("--namespace", default="default", show_default=True, help="Namespace to fill.")
@click.option(
    "--prefix", default="fleet", show_default=True, help="Device keys are <prefix><number>."
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed of the generated secrets and asset ids.  [env EMULATOR_SEED]",
)
@_db_option("The emulator's database.  [env EMULATOR_DB; default ./emulator.db]")
@_fixtures_option()
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=20_000,
    show_default=True,
    help="Devices per transaction.",
)
@click.option(
    "--commands",
    "command_count",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Commands to send to the new devices, one after the other (online: sent, awaiting "
    "the ack; offline: cached for a day); for a vendor with a command API.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def fleet(
    vendor: str, product_key: str, count: int, online_share: float, namespace: str,
    prefix: str, seed: int | None, db: str | None, fixtures: tuple[Path, ...],
    batch_size: int, command_count: int, quiet: bool,
) -> None:  # fmt: skip
    """Add a large fleet of devices to an emulator's database, for demos and load tests."""
    from emulator import fleet as fleet_module
    from emulator.app import build_emulator
    from emulator.core import namespaces

    if not namespaces.valid_name(namespace):
        raise click.BadParameter("use 1-64 of A-Z a-z 0-9 _ . -", param_hint="--namespace")
    given: dict[str, Any] = {"db": db, "fixtures": list(fixtures) or None, "seed": seed}
    overrides = {k: v for k, v in given.items() if v is not None}
    settings = _settings(Settings, overrides, set(overrides))
    if settings.db == ":memory:":
        raise click.UsageError("--db :memory: forgets the fleet on exit: name a file or URL")
    if command_count and vendor not in fleet_module.command_vendors():
        raise click.BadParameter(
            f"command traffic exists for {', '.join(fleet_module.command_vendors())} only",
            param_hint="--commands",
        )
    # The schema and the namespace's baseline first, exactly as serve would make them.
    with _startup_errors(settings, set(overrides)):
        emulator = build_emulator(settings)
    emulator.namespaces.ensure(namespace)
    spec = fleet_module.FleetSpec(
        vendor=vendor, product_key=product_key, count=count, online_share=online_share,
        namespace=namespace, prefix=prefix, seed=settings.seed, batch_size=batch_size,
    )  # fmt: skip
    label = f"{vendor} {product_key} -> {namespace}"
    states: dict[str, int] = {}
    commands_seconds = 0.0
    try:
        with _progress(count, label, quiet) as update:
            result = fleet_module.generate(
                emulator.engine, spec, clock=emulator.clock, progress=update
            )
        if command_count:
            commands_started = time.perf_counter()
            with _progress(command_count, "commands", quiet) as update:
                states = fleet_module.send_commands(
                    emulator.context(namespace), spec, result, command_count, progress=update
                )
            commands_seconds = time.perf_counter() - commands_started
    except fleet_module.FleetError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        emulator.engine.dispose()
    rate = result.created / result.seconds if result.seconds > 0 else float(result.created)
    click.echo(
        f"added {result.created} {vendor} devices to {product_key} in namespace {namespace} "
        f"({result.first_key} .. {result.last_key}, {result.online} online) "
        f"in {result.seconds:.1f} s ({rate:,.0f} devices/s)"
    )
    if result.quota_raised_to is not None:
        click.echo(f"the product's device quota is now {result.quota_raised_to}")
    if states:
        listed = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        click.echo(f"sent {sum(states.values())} commands: {listed} in {commands_seconds:.1f} s")


@main.command(
    short_help="Print the conformance report (every documented code and its coverage).",
    epilog=(
        "Each operation of the five vendor docs and their companions: the request fields and "
        "limits, and every documented error code with its coverage: 'real input' (a request "
        "can produce it), 'fault only' (POST /_emulator/faults injects it) or 'not emulated'. "
        "Generated from the error tables and the request schemas; the same report is served "
        "at GET /_emulator/conformance."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def conformance(as_json: bool) -> None:
    """Print the conformance report, generated from the error tables and the schemas."""
    import json

    from emulator.app import create_app
    from emulator.core import conformance as conformance_module

    app = create_app(Settings(db=":memory:"))
    try:
        data = conformance_module.report(app)
    finally:
        app.state.emulator.engine.dispose()
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(conformance_module.render_table(data), nl=False)


@contextmanager
def _progress(length: int, label: str, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (nothing with --quiet); yields its update function."""
    if quiet:
        yield lambda _: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update
