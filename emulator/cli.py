"""The command line: ``iot-emulator serve`` (also ``python -m emulator serve``).

Options default to ``None`` and override :class:`Settings`, which owns the ``EMULATOR_*``
variables, so each option is defined once and works both ways.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from emulator import __version__
from emulator.config import Settings
from emulator.core.fixtures import FixtureError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="iot-emulator")
def main() -> None:
    """iot-emulator: the Quectel, EnOS and MediaTek MCS device APIs, offline."""


@main.command()
@click.option(
    "--host", default=None, help="Address to bind.  [env EMULATOR_HOST; default 127.0.0.1]"
)
@click.option("--port", type=int, default=None, help="Port.  [env EMULATOR_PORT; default 8080]")
@click.option(
    "--db",
    default=None,
    help="SQLite file, ':memory:' or an SQLAlchemy URL.  [env EMULATOR_DB; default ./emulator.db]",
)
@click.option(
    "--fixtures",
    multiple=True,
    type=click.Path(path_type=Path),
    help=(
        "Fixture file (repeatable).  "
        "[env EMULATOR_FIXTURES, comma-separated; default fixtures/default.yaml]"
    ),
)
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
def serve(**options: Any) -> None:
    """Start the emulator."""
    overrides = {k: v for k, v in options.items() if v not in (None, ())}
    try:
        settings = Settings(**overrides)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    run(settings)


def run(settings: Settings) -> None:
    import uvicorn

    from emulator.app import create_app

    try:
        app = create_app(settings)
    except FixtureError as exc:
        click.echo(f"iot-emulator: invalid fixtures: {exc}", err=True)
        sys.exit(2)
    click.echo(
        f"iot-emulator {__version__} on http://{settings.host}:{settings.port} "
        f"(db {settings.db}, auth {settings.auth}, workers {settings.workers})",
        err=True,
    )
    if settings.workers == 1:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)
        return
    # Worker processes build their own app from the environment: hand the settings over there.
    os.environ.update(settings_environment(settings))
    uvicorn.run(
        "emulator.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
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
