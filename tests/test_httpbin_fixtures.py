"""The pytest-httpbin replacement: inner test files run by pytester with
`mockstatus_httpbin = true`, using the fixtures the way requests' own suite does."""

from __future__ import annotations

import importlib.metadata

import pytest

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
{extra}
"""
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def _plugin_args() -> list[str]:
    names = {ep.name for ep in importlib.metadata.entry_points(group="pytest11")}
    args = [] if "mockstatus" in names else ["-p", "mockstatus.pytest_plugin"]
    if "httpbin" in names:  # pytest-httpbin installed too: the documented way to choose ours
        args += ["-p", "no:httpbin"]
    return args


INNER = """
import os
import ssl
import urllib.request

import pytest
import requests


def test_objects(httpbin, httpbin_secure):
    assert httpbin.url == f"http://127.0.0.1:{httpbin.port}"
    assert httpbin.host == "127.0.0.1"
    assert httpbin + "/get" == httpbin.url + "/get"
    assert httpbin.join("/status/418") == httpbin.url + "/status/418"
    assert httpbin_secure.url.startswith("https://127.0.0.1:")
    assert requests.get(httpbin + "/get").json()["url"] == httpbin.url + "/get"


def test_ca_bundle(httpbin_secure, httpbin_ca_bundle):
    assert os.environ["REQUESTS_CA_BUNDLE"] == httpbin_ca_bundle
    r = requests.get(httpbin_secure + "/get")  # trusted through REQUESTS_CA_BUNDLE
    assert r.json()["url"] == httpbin_secure.url + "/get"
    for host in ("localhost", "[::1]"):
        url = f"https://{host}:{httpbin_secure.port}/ip"
        try:
            assert requests.get(url, verify=httpbin_ca_bundle).status_code == 200
        except requests.ConnectionError:
            assert host != "localhost"  # no ::1 listener: the name is in the certificate anyway


def test_secure_untrusted_by_default(httpbin_secure):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(httpbin_secure + "/get", verify=True)


def test_both(httpbin_both):
    assert requests.get(httpbin_both + "/status/204", verify=False).status_code == 204


@pytest.mark.usefixtures("class_based_httpbin", "class_based_httpbin_secure")
class TestClassBased:
    def test_attrs(self):
        assert self.httpbin.url.startswith("http://")
        assert self.httpbin_secure.url.startswith("https://")
"""


@pytest.fixture
def run(pytester, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)

    def run_inner(*args: str, ini: str = "mockstatus_httpbin = true"):
        pytester.makeini(INI.format(extra=ini))
        pytester.makepyfile(test_inner=INNER)
        return pytester.runpytest_subprocess(*_plugin_args(), *QUIET, *args)

    return run_inner


def test_fixtures_when_opted_in(run) -> None:
    result = run("-W", "ignore::urllib3.exceptions.InsecureRequestWarning")
    result.assert_outcomes(passed=6)


def test_command_line_opt_in(run) -> None:
    result = run("-o", "mockstatus_httpbin=true", "-k", "objects", ini="")
    result.assert_outcomes(passed=1)


def test_no_fixtures_without_the_option(run) -> None:
    result = run("-k", "objects", ini="")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'httpbin' not found*"])


def test_refuses_to_run_beside_pytest_httpbin(pytester) -> None:
    pytester.makeini(INI.format(extra="mockstatus_httpbin = true"))
    pytester.makeconftest("")
    pytester.makepyfile(httpbin="import pytest\n")  # a stand-in plugin registered as "httpbin"
    result = pytester.runpytest_subprocess("-p", "httpbin", *QUIET)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pytest-httpbin's plugin is active too*-p no:httpbin*"])
