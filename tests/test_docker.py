"""The Docker image and compose file, checked without a Docker engine.

The image's own start command (ENTRYPOINT + CMD) runs here with the environment the
Dockerfile sets, on a non-editable install built from the files the Dockerfile copies, with
the image's paths mapped into a temporary directory; its HEALTHCHECK command then runs too.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
import yaml

from emulator.config import Settings
from emulator.core.logs import LogSettings
from emulator.testing import free_port
from tests import calls
from tests.processes import wait_healthy
from tests.shapes import load_sample

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).parent / "vendors" / "enos" / "samples"
BIN = Path(sys.executable).parent


@dataclass
class Image:
    """What the Dockerfile declares, in order."""

    env: dict[str, str] = field(default_factory=dict)
    copies: list[tuple[list[str], str, str]] = field(default_factory=list)  # srcs, dst, workdir
    runs: list[str] = field(default_factory=list)
    workdir: str = "/"
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    user: str = "root"
    base: str = ""


def instructions(text: str) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        name, _, args = logical.partition(" ")
        yield name.upper(), args.strip()
        logical = ""


def parse_dockerfile(path: Path = ROOT / "Dockerfile") -> Image:
    image = Image()
    for name, args in instructions(path.read_text()):
        if name == "FROM":
            image.base = args
        elif name == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                image.env[key] = value
        elif name == "WORKDIR":
            image.workdir = str(PurePosixPath(image.workdir) / args)
        elif name == "COPY":
            *srcs, dst = shlex.split(args)
            image.copies.append((srcs, dst, image.workdir))
        elif name == "RUN":
            image.runs.append(args)
        elif name == "ENTRYPOINT":
            image.entrypoint = json.loads(args)
        elif name == "CMD":
            image.cmd = json.loads(args)
        elif name == "HEALTHCHECK":
            _, _, command = args.partition("CMD ")
            image.healthcheck = json.loads(command)
        elif name == "EXPOSE":
            image.expose += args.split()
        elif name == "VOLUME":
            image.volumes += json.loads(args)
        elif name == "USER":
            image.user = args
    return image


IMAGE = parse_dockerfile()


@dataclass
class Built:
    root: Path  # the image's "/"
    site: Path  # where the package is installed (site-packages of the image)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The image's file system: the COPY instructions, then the package installed from /app
    the way the Dockerfile's RUN does (a regular install, no editable link to the tree)."""
    root = tmp_path_factory.mktemp("image")
    for sources, destination, workdir in IMAGE.copies:
        target = root / str(PurePosixPath(workdir) / destination).lstrip("/")
        for source in sources:
            src = ROOT / source
            if src.is_dir():
                shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target / src.name)
    installs = [run for run in IMAGE.runs if "pip install" in run]
    assert len(installs) == 1
    assert "-e " not in installs[0]
    assert '"/app' in installs[0]
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-compile", "--disable-pip-version-check", "--target", str(site), str(root / "app")],
        check=True,
    )  # fmt: skip
    (root / "data").mkdir(exist_ok=True)
    return Built(root=root, site=site)


def image_environment(built: Built, port: int) -> dict[str, str]:
    """The Dockerfile's ENV with the image's paths under the temporary root, the loopback
    address for 0.0.0.0 (nothing here listens beyond this machine) and free ports."""
    env = {**os.environ, "PYTHONPATH": str(built.site)}
    for key, value in IMAGE.env.items():
        if value.startswith("/"):
            value = str(built.root / value.lstrip("/"))
        env[key] = value
    env["EMULATOR_HOST"] = "127.0.0.1"
    env["EMULATOR_PORT"] = str(port)
    # The MQTT listener on a port of its own too: the default (11883) is one per machine, and
    # tests running beside this one would fight over it.
    env["EMULATOR_MQTT_PORT"] = str(free_port())
    return env


def executable(argv: list[str], built: Built) -> list[str]:
    """The image's programs here: its console scripts from the install, ``python`` as the
    interpreter running the tests (the image's is on its PATH)."""
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    program = built.site / "bin" / argv[0]
    if not program.exists():
        program = BIN / argv[0]
    return [str(program), *argv[1:]]


@pytest.fixture(scope="module")
def container(built: Built) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[bytes]]]:
    port = free_port()
    env = image_environment(built, port)
    process = subprocess.Popen(
        executable(IMAGE.entrypoint + IMAGE.cmd, built),
        cwd=built.root / IMAGE.workdir.lstrip("/"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url, env, process
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_the_image_command_serves_the_doc_sample_from_the_installed_package(
    container: tuple[str, dict[str, str], subprocess.Popen[bytes]], built: Built
) -> None:
    url, env, _ = container
    where = subprocess.run(
        [sys.executable, "-c", "import emulator; print(emulator.__file__)"],
        env=env, cwd=built.root / IMAGE.workdir.lstrip("/"), capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip

    answer = calls.post(
        f"{url}/connect-service/v2.1/devices?action=create&orgId=o15475450989191",
        json=load_sample(SAMPLES / "create_device.request.json"),
        headers={"apim-accesstoken": "any-well-formed-token"},
    ).json()

    assert Path(where).is_relative_to(built.site)
    assert answer["code"] == 0
    # State in the volume, not in the working directory of the package.
    assert (built.root / "data" / "emulator.db").exists()


def test_the_healthcheck_command_passes_on_a_healthy_emulator(
    container: tuple[str, dict[str, str], subprocess.Popen[bytes]], built: Built
) -> None:
    _, env, _ = container

    result = subprocess.run(
        executable(IMAGE.healthcheck, built), env=env, capture_output=True, timeout=30
    )

    assert result.returncode == 0, result.stderr.decode()


def test_the_healthcheck_command_fails_when_nothing_answers(built: Built) -> None:
    env = image_environment(built, free_port())

    result = subprocess.run(
        executable(IMAGE.healthcheck, built), env=env, capture_output=True, timeout=30
    )

    assert result.returncode != 0


def test_the_image_runs_python_311_slim_as_a_non_root_user() -> None:
    assert IMAGE.base.startswith("python:3.11-slim")
    uid = IMAGE.user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0


def test_the_image_exposes_8080_and_keeps_state_in_the_data_volume() -> None:
    # 11883: EnOS devices over MQTT (EMULATOR_MQTT_PORT's default).
    assert IMAGE.expose == ["8080", "11883"]
    assert IMAGE.env["EMULATOR_PORT"] == "8080"
    assert IMAGE.volumes == ["/data"]
    assert PurePosixPath(IMAGE.env["EMULATOR_DB"]).parent == PurePosixPath("/data")


def test_every_image_setting_is_an_emulator_variable_the_emulator_reads() -> None:
    known = {f"EMULATOR_{name.upper()}" for name in Settings.model_fields}
    known |= {f"EMULATOR_{name.upper()}" for name in LogSettings.model_fields}
    emulator_vars = {key for key in IMAGE.env if key.startswith("EMULATOR_")}

    assert emulator_vars <= known
    assert {"EMULATOR_HOST", "EMULATOR_DB", "EMULATOR_FIXTURES"} <= emulator_vars


def test_the_image_names_the_fixtures_it_copies(built: Built) -> None:
    fixtures = IMAGE.env["EMULATOR_FIXTURES"]

    # A regular install does not carry fixtures/ (it is beside the package in the tree).
    assert not (built.site / "fixtures").exists()
    assert (built.root / fixtures.lstrip("/")).read_text() == (
        ROOT / "fixtures" / PurePosixPath(fixtures).name
    ).read_text()


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    assert {".git", ".venv", "emulator.db", "tests"} <= ignored
    assert not ignored & {"emulator", "fixtures", "pyproject.toml", "README.md"}


def test_the_dockerfile_is_clean_under_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint is a dev dependency: pip install -e '.[dev]'"

    result = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stdout + result.stderr


COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_publishes_the_emulator_on_loopback_with_a_named_volume() -> None:
    service = COMPOSE["services"]["emulator"]

    assert "profiles" not in service
    assert all(port.startswith("127.0.0.1:") for port in service["ports"])
    assert service["ports"][0].endswith(":8080")
    volume, _, mount = service["volumes"][0].partition(":")
    assert mount == "/data"
    assert volume in COMPOSE["volumes"]


def test_compose_health_check_is_the_image_health_check() -> None:
    for name in ("emulator", "emulator-postgres"):
        assert COMPOSE["services"][name]["healthcheck"]["test"] == ["CMD", *IMAGE.healthcheck]


def test_compose_postgres_profile_stores_the_state_in_postgresql() -> None:
    services = COMPOSE["services"]
    emulator, postgres = services["emulator-postgres"], services["postgres"]

    assert emulator["profiles"] == postgres["profiles"] == ["postgres"]
    assert emulator["environment"]["EMULATOR_DB"].startswith("postgresql")
    assert "@postgres:5432/" in emulator["environment"]["EMULATOR_DB"]
    assert emulator["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert all(port.startswith("127.0.0.1:") for port in emulator["ports"])


def test_compose_settings_are_emulator_variables_the_emulator_reads() -> None:
    known = {f"EMULATOR_{name.upper()}" for name in Settings.model_fields}
    known |= {f"EMULATOR_{name.upper()}" for name in LogSettings.model_fields}
    for name in ("emulator", "emulator-postgres"):
        assert set(COMPOSE["services"][name]["environment"]) <= known
