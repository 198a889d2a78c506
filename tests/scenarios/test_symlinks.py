"""Symbolic links in the scenarios folder: followed only to a file inside the folder.

Kubernetes ConfigMap mounts make every file a link into `..data/`, itself a link to a dated
folder, all inside the mounted folder: those load, and a ConfigMap update (a new dated folder,
`..data` swapped) reloads. A link that leads out of the folder is not read: a located problem
names the link and says why, and what it points to shows in no error, log, journal or admin
answer — at start, on reload and in `mockstatus check`.
"""

from __future__ import annotations

import io
import json
import os
import random
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mockstatus.app import Mockstatus
from mockstatus.errors import ScenarioError
from mockstatus.runner import BackgroundServer
from mockstatus.scenarios.check import run_check
from mockstatus.scenarios.loader import LINK_OUTSIDE, load_folder
from mockstatus.types import ManualClock

V1 = """\
routes:
  - name: r
    match: {path: /svc}
    respond: {status: 200, body: "v1"}
"""
V2 = V1.replace('"v1"', '"v2"')
SECRET = "sk-live-SECRET-4242"
# Valid YAML without routes: read as a scenario, its first line would be the error's source line.
SECRET_FILE = f"api_key: {SECRET}\npassword: hunter2\n"


def configmap(folder: Path, files: dict[str, str], stamp: str = "..2026_01_01") -> None:
    """The layout kubelet makes: `..<stamp>/<name>`, `..data -> ..<stamp>`, `<name> ->
    ..data/<name>`; a second call is an update (new dated folder, `..data` swapped at once)."""
    dated = folder / stamp
    dated.mkdir()
    for name, text in files.items():
        (dated / name).write_text(text)
    tmp = folder / "..data_tmp"
    tmp.symlink_to(stamp)
    os.replace(tmp, folder / "..data")
    for name in files:
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(Path("..data") / name)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "elsewhere" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text(SECRET_FILE)
    return secret


def get(server: BackgroundServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(server.url(path), timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def start(folder: Path) -> BackgroundServer:
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=folder)
    app.store.load_initial()
    return BackgroundServer(app).start()


def test_a_configmap_mount_loads(tmp_path: Path) -> None:
    folder = tmp_path / "mount"
    folder.mkdir()
    configmap(folder, {"svc.yaml": V1})
    loaded = load_folder(folder)
    assert [(s.name, [r.name for r in s.routes]) for s in loaded.scenarios] == [("svc", ["r"])]
    out = io.StringIO()
    assert run_check([str(folder)], out) == 0, out.getvalue()


def test_a_configmap_update_reloads(tmp_path: Path) -> None:
    folder = tmp_path / "mount"
    folder.mkdir()
    configmap(folder, {"svc.yaml": V1})
    server = start(folder)
    try:
        assert get(server, "/svc") == (200, "v1")
        configmap(folder, {"svc.yaml": V2}, stamp="..2026_01_02")
        assert server.call(server.app.store.reload) is True
        assert get(server, "/svc") == (200, "v2")
        assert server.app.store.errors == []
    finally:
        server.stop()


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_a_link_out_of_the_folder_is_refused_and_never_read(
    tmp_path: Path, outside: Path, relative: bool
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "svc.yaml").write_text(V1)
    target = Path("..") / "elsewhere" / "secret.yaml" if relative else outside
    (folder / "evil.yaml").symlink_to(target)
    with pytest.raises(ScenarioError) as caught:
        load_folder(folder)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.column) == (str(folder / "evil.yaml"), 1, 1)
    assert problem.message == LINK_OUTSIDE
    assert problem.source_line == ""
    assert str(problem) == f"{folder / 'evil.yaml'}:1:1: {LINK_OUTSIDE}"
    assert SECRET not in str(caught.value) and "hunter2" not in str(caught.value)


def test_a_link_that_leaves_and_comes_back_in_is_followed(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "real.yml").write_text(V1)
    (folder / "svc.yaml").symlink_to(Path("..") / "scenarios" / "sub" / "real.yml")
    through = tmp_path / "through"  # the folder itself named through a link
    through.symlink_to(folder)
    assert [s.name for s in load_folder(through).scenarios] == ["svc"]


def test_check_refuses_the_link_and_shows_nothing_of_its_target(
    tmp_path: Path, outside: Path
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "svc.yaml").write_text(V1)
    (folder / "evil.yaml").symlink_to(outside)
    out = io.StringIO()
    assert run_check([str(folder)], out) == 1
    text = out.getvalue()
    assert text == f"{folder / 'evil.yaml'}:1:1: {LINK_OUTSIDE}\n1 problem found\n"


def test_the_server_does_not_start_on_a_link_out(tmp_path: Path, outside: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "evil.yaml").symlink_to(outside)
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=folder)
    with pytest.raises(ScenarioError) as caught:
        app.store.load_initial()
    assert [p.message for p in caught.value.problems] == [LINK_OUTSIDE]
    assert SECRET not in str(caught.value)


def test_a_reload_refuses_the_link_and_keeps_serving(
    tmp_path: Path, outside: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    configmap(folder, {"svc.yaml": V1})
    server = start(folder)
    try:
        (folder / "evil.yaml").symlink_to(outside)
        assert server.call(server.app.store.reload) is False
        assert get(server, "/svc") == (200, "v1")  # the last good configuration
        status, body = get(server, "/__mockstatus/scenarios")
        assert status == 200
        errors = json.loads(body)["errors"]
        assert errors == [
            {
                "file": str(folder / "evil.yaml"),
                "line": 1,
                "column": 1,
                "message": LINK_OUTSIDE,
                "text": f"{folder / 'evil.yaml'}:1:1: {LINK_OUTSIDE}",
            }
        ]
        answers = [body]
        for path in ("/__mockstatus/requests", "/__mockstatus/health", "/__mockstatus/metrics"):
            answers.append(get(server, path)[1])
        for answer in answers:
            assert SECRET not in answer and "hunter2" not in answer
        # The watcher sees the same folder and gets the same answer.
        assert server.call(server.app.store.reload) is False
    finally:
        server.stop()
    captured = capfd.readouterr()
    assert SECRET not in captured.out + captured.err
    assert "hunter2" not in captured.out + captured.err
