"""Schemathesis against the API's own OpenAPI spec, on a real server with the bundled day
planned and published: no request, valid or not, gets a 5xx or a response the spec does not
describe. Also: a malformed body gets 422 naming the field.

Bounded and deterministic: a fixed number of derandomised examples per operation. Every
operation is called with a coordinator's and a volunteer's token, and also with its own role's
token (planner, partner) where that is another. Requests that would start a solve (plans,
re-plans, scenarios) are sent for a day without inputs, so they are judged without queueing
a plan that might run for minutes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.api_server import add_token, bearer, bundled_date, serving, upload_day, wait_job

ITERATIONS = 5  # the plan the fuzzing runs against: small, deterministic
EXAMPLES = 8  # generated examples per operation (besides the spec's own examples)
EMPTY_DAY = "2001-01-01"  # no inputs: a plan, re-plan or scenario request for it never runs
STARTS_A_SOLVE = {
    ("POST", "/v1/days/{date}/plans"),
    ("POST", "/v1/days/{date}/replans"),
    ("POST", "/v1/scenarios"),
}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261125,
        "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)


class Api:
    """The running server, its day and a token per role."""

    def __init__(self, base: str, date: str, tokens: dict[str, str], volunteer: str) -> None:
        self.base = base
        self.date = date
        self.tokens = tokens
        self.volunteer = volunteer


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'kst-match.sqlite3'}"
    date = bundled_date()
    tokens = {"coordinator": add_token(url, "coordinator"), "planner": add_token(url, "planner")}
    with (
        serving(url, folder / "server.log") as server,
        httpx.Client(base_url=server.base, timeout=60) as client,
    ):
        hub = bearer(tokens["coordinator"])
        upload_day(client, tokens["coordinator"], date)
        response = client.post(
            f"/v1/days/{date}/plans", json={"iterations": ITERATIONS}, headers=hub
        )
        job = wait_job(client, tokens["coordinator"], response.json()["job_id"])
        assert job["state"] == "done", job["reason"]
        version = job["plan_version"]
        assert client.post(f"/v1/days/{date}/plans/{version}/publish", headers=hub).is_success
        plan = client.get(f"/v1/days/{date}/plans/{version}", headers=hub).json()
        route = plan["routes"][0]
        partner = plan["assignments"][0]["partner"]
        tokens["volunteer"] = add_token(url, "volunteer", volunteer=route["volunteer"])
        tokens["partner"] = add_token(url, "partner", partner=partner)
        yield Api(server.base, date, tokens, route["volunteer"])


@pytest.fixture(scope="module")
def api_schema(api: Api) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api.base}/openapi.json", config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


def _roles(case: schemathesis.Case) -> list[str]:
    """The coordinator and a volunteer always; the operation's own role too."""
    roles = ["coordinator", "volunteer"]
    for tag in case.operation.definition.raw.get("tags", []):
        if tag in ("planner", "partner") and tag not in roles:
            roles.append(tag)
    return roles


def _away_from_solves(case: schemathesis.Case) -> None:
    """Point a request that would start a solve at the day without inputs."""
    if (case.method.upper(), case.path) not in STARTS_A_SOLVE:
        return
    if case.path_parameters and "date" in case.path_parameters:
        case.path_parameters["date"] = EMPTY_DAY
    if isinstance(case.body, dict) and "date" in case.body:
        case.body["date"] = EMPTY_DAY


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_every_response_as_the_spec_says(
    case: schemathesis.Case, api: Api
) -> None:
    _away_from_solves(case)
    for role in _roles(case):
        case.call_and_validate(
            base_url=api.base, headers=bearer(api.tokens[role]), checks=CHECKS, timeout=60
        )


# ---------------------------------------------------------------------------------------------
# A malformed body: 422, naming the field
# ---------------------------------------------------------------------------------------------
def _fields(response: httpx.Response) -> list[Any]:
    """The last element of each error's location (the field), from FastAPI's 422 body."""
    assert response.status_code == 422, response.text
    return [error["loc"][-1] for error in response.json()["detail"]]


def test_a_malformed_report_gets_422_naming_the_field(api: Api) -> None:
    with httpx.Client(base_url=api.base, headers=bearer(api.tokens["volunteer"])) as client:
        mine = client.get("/v1/me/assignments", params={"date": api.date}).json()
        assignment = mine["assignments"][0]["assignment_id"]
        path = f"/v1/me/assignments/{assignment}/report"
        report_id = str(uuid.uuid4())

        bad_outcome = client.post(path, json={"report_id": report_id, "outcome": "maybe"})
        assert _fields(bad_outcome) == ["outcome"]
        bad_id = client.post(path, json={"report_id": "not-a-uuid", "outcome": "done"})
        assert _fields(bad_id) == ["report_id"]
        no_id = client.post(path, json={"outcome": "done"})
        assert _fields(no_id) == ["report_id"]
        bad_reason = client.post(
            path, json={"report_id": report_id, "outcome": "failed", "reason": "tired"}
        )
        assert _fields(bad_reason) == ["reason"]
        # A failure without its reason: the message names the missing field.
        no_reason = client.post(path, json={"report_id": report_id, "outcome": "failed"})
        assert no_reason.status_code == 422
        assert "reason" in no_reason.json()["detail"][0]["msg"]
        # None of these was stored: the same report_id is still free.
        ok = client.post(path, json={"report_id": report_id, "outcome": "done"})
        assert ok.status_code == 200
        assert ok.json()["duplicate"] is False


def test_a_malformed_plan_request_gets_422_naming_the_field(api: Api) -> None:
    with httpx.Client(base_url=api.base, headers=bearer(api.tokens["coordinator"])) as client:
        path = f"/v1/days/{EMPTY_DAY}/plans"
        assert _fields(client.post(path, json={"iterations": "lots"})) == ["iterations"]
        assert _fields(client.post(path, json={"iterations": -1})) == ["iterations"]
        assert _fields(client.post(path, json={"time_limit_s": 0})) == ["time_limit_s"]
        assert _fields(client.post(path, json={"iteration": 5})) == ["iteration"]
        assert _fields(client.post("/v1/days/2026-02-30/plans", json={})) == ["date"]


def test_a_malformed_token_request_gets_422_naming_the_field(api: Api) -> None:
    with httpx.Client(base_url=api.base, headers=bearer(api.tokens["coordinator"])) as client:
        response = client.post("/v1/tokens", json={"role": "superuser", "name": "x"})
        assert _fields(response) == ["role"]
