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
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_server import add_token, bearer, bundled_date, serving, upload_day, wait_job

ITERATIONS = 5  # the plan the fuzzing runs against: small, deterministic
EXAMPLES = 8  # requests per operation and kind (the spec's examples, valid, invalid)
EMPTY_DAY = "2001-01-01"  # no inputs: a plan, re-plan or scenario request for it never runs
STARTS_A_SOLVE = {
    ("POST", "/v1/days/{date}/plans"),
    ("POST", "/v1/days/{date}/replans"),
    ("POST", "/v1/scenarios"),
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261125,
        "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)


class Api:
    """The running server, its database, its day and a token per role."""

    def __init__(self, base: str, url: str, date: str) -> None:
        self.base = base
        self.url = url
        self.date = date
        self.tokens: dict[str, str] = {}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A server with the bundled day uploaded."""
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'kst-match.sqlite3'}"
    api = Api("", url, bundled_date())
    api.tokens = {
        "coordinator": add_token(url, "coordinator"),
        "planner": add_token(url, "planner"),
    }
    with (
        serving(url, folder / "server.log") as server,
        httpx.Client(base_url=server.base, timeout=60) as client,
    ):
        api.base = server.base
        upload_day(client, api.tokens["coordinator"], api.date)
        yield api


@pytest.fixture(scope="module")
def planned(served: Api) -> Api:
    """The day planned and published; tokens of a volunteer and a partner with work in it."""
    hub = bearer(served.tokens["coordinator"])
    with httpx.Client(base_url=served.base, timeout=60, headers=hub) as client:
        response = client.post(f"/v1/days/{served.date}/plans", json={"iterations": ITERATIONS})
        job = wait_job(client, served.tokens["coordinator"], response.json()["job_id"])
        assert job["state"] == "done", job["reason"]
        version = job["plan_version"]
        assert client.post(f"/v1/days/{served.date}/plans/{version}/publish").is_success
        plan = client.get(f"/v1/days/{served.date}/plans/{version}").json()
    served.tokens["volunteer"] = add_token(served.url, "volunteer", plan["routes"][0]["volunteer"])
    served.tokens["partner"] = add_token(
        served.url, "partner", partner=plan["assignments"][0]["partner"]
    )
    return served


def _roles(operation: schemathesis.APIOperation) -> list[str]:
    """The coordinator and a volunteer always; the operation's own role too."""
    roles = ["coordinator", "volunteer"]
    roles += [t for t in operation.tags or [] if t in ("planner", "partner")]
    return roles


def _away_from_solves(case: schemathesis.Case) -> None:
    """Point a request that would start a solve at the day without inputs."""
    if (case.method.upper(), case.path) not in STARTS_A_SOLVE:
        return
    if case.path_parameters and "date" in case.path_parameters:
        case.path_parameters["date"] = EMPTY_DAY
    if isinstance(case.body, dict) and "date" in case.body:
        case.body["date"] = EMPTY_DAY


def _strategies(operation: schemathesis.APIOperation) -> dict[str, SearchStrategy[Any]]:
    """The spec's own examples, then valid and invalid generated requests."""
    found: dict[str, SearchStrategy[Any]] = {}
    examples = operation.get_strategies_from_examples()
    if examples:
        found["examples"] = st.one_of(examples)
    found["valid"] = operation.as_strategy(GenerationMode.POSITIVE)
    if operation.body or any(True for _ in operation.iter_parameters()):
        found["invalid"] = operation.as_strategy(GenerationMode.NEGATIVE)
    return found


def _fuzz(api: Api, operation: schemathesis.APIOperation, strategy: SearchStrategy[Any]) -> None:
    """Send EXAMPLES derandomised requests of ``strategy`` with each role's token."""
    roles = _roles(operation)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),  # no shrinking: the first failure is enough
        suppress_health_check=list(HealthCheck),
    )
    def send(case: schemathesis.Case) -> None:
        _away_from_solves(case)
        for role in roles:
            case.call_and_validate(
                base_url=api.base, headers=bearer(api.tokens[role]), checks=CHECKS, timeout=60
            )

    send()


def test_no_server_error_and_every_response_as_the_spec_says(planned: Api) -> None:
    api = planned
    schema = schemathesis.openapi.from_url(f"{api.base}/openapi.json", config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # every endpoint of the contract is in the spec
    failures = []
    for operation in operations:
        for kind, strategy in _strategies(operation).items():
            try:
                _fuzz(api, operation, strategy)
            except (Exception, BaseExceptionGroup) as exc:  # every operation is tried
                failures.append(f"{operation.label} ({kind}):\n{exc}")
    assert not failures, "\n\n".join(failures)


# ---------------------------------------------------------------------------------------------
# A malformed body: 422, naming the field
# ---------------------------------------------------------------------------------------------
def _fields(response: httpx.Response) -> list[Any]:
    """The last element of each error's location (the field), from FastAPI's 422 body."""
    assert response.status_code == 422, response.text
    return [error["loc"][-1] for error in response.json()["detail"]]


def test_a_malformed_report_gets_422_naming_the_field(served: Api) -> None:
    token = add_token(served.url, "volunteer", "V00001")
    path = "/v1/me/assignments/1/report"  # the body is judged before the assignment
    report_id = str(uuid.uuid4())
    with httpx.Client(base_url=served.base, headers=bearer(token)) as client:
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
        assert "reason is required" in no_reason.json()["detail"][0]["msg"]
        huge = client.post("/v1/me/assignments/99999999999999999999/report", json={})
        assert "assignment_id" in _fields(huge)


def test_a_malformed_plan_request_gets_422_naming_the_field(served: Api) -> None:
    token = add_token(served.url, "coordinator")
    with httpx.Client(base_url=served.base, headers=bearer(token)) as client:
        path = f"/v1/days/{EMPTY_DAY}/plans"
        assert _fields(client.post(path, json={"iterations": "lots"})) == ["iterations"]
        assert _fields(client.post(path, json={"iterations": -1})) == ["iterations"]
        assert _fields(client.post(path, json={"time_limit_s": 0})) == ["time_limit_s"]
        assert _fields(client.post(path, json={"iteration": 5})) == ["iteration"]
        assert _fields(client.post("/v1/days/2026-02-30/plans", json={})) == ["date"]
        big = client.get(f"/v1/days/{served.date}/plans/4294967296/kpis")
        assert _fields(big) == ["version"]


def test_a_malformed_token_request_gets_422_naming_the_field(served: Api) -> None:
    token = add_token(served.url, "coordinator")
    with httpx.Client(base_url=served.base, headers=bearer(token)) as client:
        response = client.post("/v1/tokens", json={"role": "superuser", "name": "x"})
        assert _fields(response) == ["role"]
