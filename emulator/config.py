"""Settings: every option of ``iot-emulator serve``, also read from ``EMULATOR_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from emulator.core.offload import THREADS as DB_THREADS

AuthMode = Literal["off", "lenient", "strict"]

# The baseline state: fixtures/default.yaml at the repo top, shipped inside the package as
# emulator/fixtures/default.yaml (a link to it in the source tree, a copy in a built wheel),
# so a regular install finds it too.
DEFAULT_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "default.yaml"
# Names the default fixtures in a list of fixture files, as ':memory:' names a database, so
# "the defaults plus mine" is `--fixtures :default: --fixtures mine.yaml` (a list without it
# replaces the defaults).
DEFAULTS = ":default:"


class Settings(BaseSettings):
    """How one emulator is built. Environment: ``EMULATOR_<NAME>`` (e.g. ``EMULATOR_PORT``)."""

    model_config = SettingsConfigDict(env_prefix="EMULATOR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    db: str = Field(
        default="./emulator.db",
        description="SQLite file path, ':memory:', or an SQLAlchemy URL",
    )
    # Seconds to wait at start-up for a PostgreSQL server that cannot be reached yet.
    db_wait: float = Field(default=30, ge=0)
    # Comma-separated in the environment: EMULATOR_FIXTURES=a.yaml,b.yaml
    fixtures: Annotated[list[Path], NoDecode] = Field(default_factory=lambda: [DEFAULT_FIXTURES])
    auth: AuthMode = "lenient"
    seed: int | None = None
    workers: int = Field(default=1, ge=1)
    # Request bodies: vendor paths and the control plane; fixture documents (POST /fixtures,
    # PUT /state) may be larger.
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    max_fixture_bytes: int = Field(default=16 * 1_048_576, ge=1)
    # The journal keeps at most this many entries, and at most about this many bytes.
    journal_size: int = Field(default=10_000, ge=0)
    journal_bytes: int = Field(default=64 * 1_048_576, ge=0)
    # batchControlDevice's list limit behind code 5312 is undocumented; 100 is our default.
    batch_control_limit: int = Field(default=100, ge=1)
    # The database (core/db.py): seconds to connect, and for one statement to run or wait on
    # a lock; past them the request gets the vendor's internal error (control plane: 503).
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_statement_timeout: float = Field(default=10.0, gt=0)
    # On PostgreSQL, the vendor requests one process has waiting on the database at once
    # (core/offload.py); the others queue for a free thread. Each thread holds a connection
    # of its own (core/held.py), hence a bound.
    db_threads: int = Field(default=DB_THREADS, ge=1, le=32)
    # Connections (emulator/server.py): closed when idle this long between requests, when a
    # request's headers take longer than header_timeout, or a body pauses longer than
    # body_timeout between two pieces. Seconds.
    idle_timeout: int = Field(default=5, ge=1)
    header_timeout: float = Field(default=10.0, gt=0)
    body_timeout: float = Field(default=30.0, gt=0)
    log_level: str = "info"
    # EnOS devices log in over MQTT (vendors/enos/mqtt) on --host at this port; 11883 is the
    # real platform's own. EMULATOR_MQTT=false (--no-mqtt) leaves the port closed.
    mqtt: bool = True
    mqtt_port: int = Field(default=11883, ge=0, le=65535)
    # Guards the /_emulator control plane (all but health) when set: see control/auth.py.
    admin_token: str | None = Field(default=None, repr=False)

    @field_validator("fixtures", mode="before")
    @classmethod
    def _split_fixtures(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return [DEFAULT_FIXTURES if str(item) == DEFAULTS else item for item in value]
        return value
