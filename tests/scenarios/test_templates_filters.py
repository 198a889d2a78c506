"""Template expressions on the wire: JSONPath, cookie and form values, `now` with an offset and a
format, seeded random values, filters, typed JSON output; unknown filters and variables are
located load-time errors."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from mockstatus.errors import ScenarioError
from mockstatus.scenarios import load_text
from mockstatus.types import ManualClock

ECHO = """\
name: echo
seed: 7
routes:
  - name: order
    match: {method: POST, path: /order}
    respond:
      headers:
        X-Sid: "{{ cookies.sid | upper }}"
        X-Expires: "{{ now | add: '1h' | format: 'http-date' }}"
      json:
        id: "{{ body.$.items[0].id | int }}"
        first: "{{ body.$.items[0] | json }}"
        name: "{{ body.$.user.name | default: 'anon' }}"
        paid: "{{ body.$.paid | bool }}"
        price: "{{ body.$.price | float }}"
        epoch: "{{ now | format: 'epoch' }}"
        epoch_ms: "{{ now | add: '-1s' | format: 'epoch_ms' | int }}"
        iso: "{{ now | format: 'iso' }}"
        text: "n={{ body.$.items[0].id }}"
        b64: "{{ cookies.sid | base64 }}"
  - name: form
    match: {method: POST, path: /form}
    respond: {body: "{{ form.kind | lower }}/{{ query.q | default: 'none' }}"}
  - name: dice
    match: {path: /dice}
    respond: {json: {roll: "{{ random.int: 1, 6 | int }}", pick: "{{ random.choice: red, 'dark blue' }}"}}
"""


@pytest.fixture
def clock():
    return ManualClock()


def test_values_filters_and_typed_output(make_server, clock):
    server = make_server({"echo.yaml": ECHO}, clock=clock)
    now = clock.wall()
    body = {"items": [{"id": "42"}], "user": {}, "paid": True, "price": "9.5"}
    reply = httpx.post(server.url("/order"), json=body, headers={"Cookie": "sid=ab12"})
    assert reply.status_code == 200
    doc = reply.json()
    assert doc["id"] == 42
    assert doc["first"] == {"id": "42"}
    assert doc["name"] == "anon"
    assert doc["paid"] is True
    assert doc["price"] == 9.5
    assert doc["epoch"] == str(int(now))  # not typed: format gives text
    assert doc["epoch_ms"] == int((now - 1) * 1000)
    assert doc["iso"].endswith("Z") and doc["iso"][:4].isdigit()
    assert doc["text"] == "n=42"
    assert doc["b64"] == base64.b64encode(b"ab12").decode()
    assert reply.headers["X-Sid"] == "AB12"
    import email.utils

    assert email.utils.parsedate_to_datetime(reply.headers["X-Expires"]).timestamp() == int(
        now + 3600
    )


def test_form_values(make_server):
    server = make_server({"echo.yaml": ECHO})
    assert httpx.post(server.url("/form?q=x"), data={"kind": "PHOTO"}).text == "photo/x"
    multipart = httpx.post(server.url("/form"), files={"kind": (None, b"Video")})
    assert multipart.text == "video/none"


def test_random_values_follow_the_seed(make_server):
    first = make_server({"echo.yaml": ECHO})
    second = make_server({"echo.yaml": ECHO})
    rolls = [httpx.get(first.url("/dice")).json() for _ in range(12)]
    again = [httpx.get(second.url("/dice")).json() for _ in range(12)]
    assert rolls == again  # the file's seed: the same sequence on every server
    assert {r["roll"] for r in rolls} <= set(range(1, 7))
    assert all(isinstance(r["roll"], int) for r in rolls)
    assert {r["pick"] for r in rolls} <= {"red", "dark blue"}
    assert len({r["roll"] for r in rolls}) > 1  # it does vary from call to call


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ query.q | uper }}", "unknown filter 'uper' (did you mean 'upper'?)"),
        ("{{ qury.q | upper }}", "unknown template variable '{{ qury.q }}'"),
        ("{{ now | format: 'unix' }}", "'format' takes one of epoch, epoch_ms, iso, http-date"),
        ("{{ now | add: 'soon' }}", "'add' must be a duration"),
        ("{{ random.int: 6, 1 }}", "'random.int' needs LOW <= HIGH"),
        ("{{ random.dice }}", "unknown variable 'random.dice' (did you mean 'random.choice'?)"),
        ("{{ body.$.a[ }}", "JSONPath '$.a[' is not valid RFC 9535"),
        ("{{ query.q | default }}", "filter 'default' takes one argument"),
        ("{{ query.q | upper: 1 }}", "filter 'upper' takes no argument"),
    ],
)
def test_unknown_filters_and_variables_are_located_errors(template, message):
    text = f'routes:\n  - respond:\n      body: "{template}"\n'
    with pytest.raises(ScenarioError) as caught:
        load_text(text, "t.yaml", Path("."), "t")
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (3, 13)
    assert message in problem.message
