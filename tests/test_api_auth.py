"""Who may do what: every endpoint for every role, with their own object and another's; rate
limits and CORS. In-process (FastAPI's TestClient) on a real SQLite file with a real plan; the
real-server tests (test_api_e2e, test_api_faults) use every role over HTTP."""

from __future__ import annotations

import gc
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import Settings, create_app
from kst_match.model import Day, Plan
from kst_match.paths import DEFAULT_DAY_DIR
from kst_match.store import Store, auth, plans
from tests.api_server import (
    add_token,
    bearer,
    bundled_date,
    upload_day,
    upload_small_day,
    wait_job,
)

DATE = bundled_date()
EMPTY = "2031-01-06"  # a day with no inputs and no plan
SMALL = "2031-01-07"  # a small day for a scenario job (60 needs)
UNKNOWN_JOB = "0" * 32
ROLES = ("none", "revoked", "coordinator", "planner", "partner", "volunteer")
SCENARIO = "name: fewer drivers\nchanges:\n  - volunteers: {skill: driver, scale: 0.8}\n"


class World:
    """A planned, published bundled day, a scenario job on a small day, and a token for
    everyone."""

    def __init__(self, client: TestClient, url: str) -> None:
        self.client = client
        self.url = url
        self.tokens: dict[str, str | None] = {"none": None}
        self.tokens["coordinator"] = add_token(url, "coordinator")
        self.tokens["planner"] = add_token(url, "planner")
        hub = bearer(self.tokens["coordinator"])
        upload_day(client, self.tokens["coordinator"], DATE)
        response = client.post(f"/v1/days/{DATE}/plans", json={"iterations": 0}, headers=hub)
        self.job_id = response.json()["job_id"]
        assert wait_job(client, self.tokens["coordinator"], self.job_id)["state"] == "done"
        assert client.post(f"/v1/days/{DATE}/plans/1/publish", headers=hub).status_code == 200
        store = Store(url)
        with store.read() as session:
            row = plans.version(session, __import__("datetime").date.fromisoformat(DATE), 1)
        store.dispose()
        assert row is not None
        self.plan = Plan.model_validate_json(row.plan_json)
        self.day = Day.model_validate_json(row.day_json)
        visits = [
            r.volunteer
            for r in self.plan.routes
            if sum(s.kind in ("deliver", "visit") for s in r.stops) >= 2
        ]
        self.me, self.other = visits[0], visits[1]
        partner_of = {a.need: a.partner for a in self.plan.assignments}
        mine = [a for a in self.plan.assignments if a.volunteer == self.me]
        self.partner = partner_of[mine[0].need]
        self.other_partner = next(p for p in partner_of.values() if p != self.partner)
        self.tokens["volunteer"] = add_token(url, "volunteer", volunteer=self.me)
        self.tokens["partner"] = add_token(url, "partner", partner=self.partner)
        self.other_volunteer_token = add_token(url, "volunteer", volunteer=self.other)
        self.other_partner_token = add_token(url, "partner", partner=self.other_partner)
        made = client.post("/v1/tokens", json={"role": "coordinator"}, headers=hub).json()
        assert client.delete(f"/v1/tokens/{made['token_id']}", headers=hub).status_code == 204
        self.tokens["revoked"] = made["token"]
        self.my_assignment = self._assignments(self.tokens["volunteer"])[0]["assignment_id"]
        self.their_assignment = self._assignments(self.other_volunteer_token)[0]["assignment_id"]
        self.scenario_job = self._scenario_job()

    def _scenario_job(self) -> str:
        upload_small_day(self.client, self.tokens["coordinator"] or "", SMALL)
        body = {"date": SMALL, "scenarios": [SCENARIO], "iterations": 0}
        planner = self.tokens["planner"] or ""
        response = self.client.post("/v1/scenarios", json=body, headers=bearer(planner))
        job = wait_job(self.client, planner, response.json()["job_id"])
        assert job["state"] == "done", job["reason"]
        return str(job["job_id"])

    def path(self, template: str) -> str:
        return template.format(
            job=self.job_id,
            mine=self.my_assignment,
            theirs=self.their_assignment,
            scenario=self.scenario_job,
            unknown=UNKNOWN_JOB,
        )

    def _assignments(self, token: str) -> list[dict[str, Any]]:
        response = self.client.get(
            "/v1/me/assignments", params={"date": DATE}, headers=bearer(token)
        )
        return response.json()["assignments"]  # type: ignore[no-any-return]

    def call(self, role: str, method: str, path: str, **kwargs: Any) -> Any:
        token = self.tokens[role]
        headers = {**kwargs.pop("headers", {}), **(bearer(token) if token else {})}
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('auth') / 'kst-match.sqlite3'}"
    with TestClient(create_app(Settings(database_url=url))) as client:
        yield World(client, url)


def _report() -> dict[str, str]:
    return {"json": {"report_id": str(uuid.uuid4()), "outcome": "done"}}  # type: ignore[dict-item]


SITES = {
    "content": (DEFAULT_DAY_DIR / "sites.csv").read_bytes(),
    "headers": {"Content-Type": "text/csv"},
}
OK = 200
# (name, method, path, request arguments, the roles allowed and what they get); every other
# role with a token gets 403, and no token or a revoked one 401.
MATRIX: list[tuple[str, str, str, Any, dict[str, int]]] = [
    ("upload", "POST", f"/v1/days/{EMPTY}/sites", lambda: SITES, {"coordinator": OK}),
    ("plan", "POST", f"/v1/days/{EMPTY}/plans", lambda: {"json": {}}, {"coordinator": 409}),
    (
        "replan",
        "POST",
        f"/v1/days/{EMPTY}/replans",
        lambda: {"json": {"now": "12:00"}},
        {"coordinator": 409},
    ),
    ("job", "GET", "/v1/jobs/{job}", dict, {"coordinator": OK, "planner": OK}),
    ("versions", "GET", f"/v1/days/{DATE}/plans", dict, {"coordinator": OK}),
    ("plan.json", "GET", f"/v1/days/{DATE}/plans/1", dict, {"coordinator": OK}),
    ("kpis", "GET", f"/v1/days/{DATE}/plans/1/kpis", dict, {"coordinator": OK}),
    ("geojson", "GET", f"/v1/days/{DATE}/plans/1/routes.geojson", dict, {"coordinator": OK}),
    ("map", "GET", f"/v1/days/{DATE}/plans/1/map", dict, {"coordinator": OK}),
    ("unserved", "GET", f"/v1/days/{DATE}/plans/1/unserved", dict, {"coordinator": OK}),
    ("no such version", "GET", f"/v1/days/{DATE}/plans/99", dict, {"coordinator": 404}),
    ("publish", "POST", f"/v1/days/{DATE}/plans/1/publish", dict, {"coordinator": OK}),
    ("my day", "GET", f"/v1/me/assignments?date={DATE}", dict, {"volunteer": OK}),
    ("no plan that day", "GET", f"/v1/me/assignments?date={EMPTY}", dict, {"volunteer": 404}),
    ("report mine", "POST", "/v1/me/assignments/{mine}/report", _report, {"volunteer": OK}),
    ("report theirs", "POST", "/v1/me/assignments/{theirs}/report", _report, {"volunteer": 404}),
    ("report none", "POST", "/v1/me/assignments/999999/report", _report, {"volunteer": 404}),
    ("stop", "POST", f"/v1/me/stop-for-today?date={DATE}", dict, {"volunteer": OK}),
    ("partner", "GET", f"/v1/partner/needs?date={DATE}", dict, {"partner": OK}),
    ("aggregates", "GET", f"/v1/planner/days/{DATE}/aggregates", dict, {"planner": OK}),
    (
        "scenarios",
        "POST",
        "/v1/scenarios",
        lambda: {"json": {"date": EMPTY, "scenarios": [SCENARIO]}},
        {"planner": 409},
    ),
    ("scenario of a plan job", "GET", "/v1/scenarios/{job}", dict, {"planner": 404}),
    ("scenario", "GET", "/v1/scenarios/{scenario}", dict, {"planner": OK}),
    ("plots", "GET", "/v1/scenarios/{scenario}/plots", dict, {"planner": OK}),
    ("plot", "GET", "/v1/scenarios/{scenario}/plots/unserved_by_ward.png", dict, {"planner": OK}),
    (
        "plot not drawn",
        "GET",
        "/v1/scenarios/{scenario}/plots/capacity_curve.png",
        dict,
        {"planner": 404},
    ),
    ("plots of a plan job", "GET", "/v1/scenarios/{job}/plots", dict, {"planner": 404}),
    (
        "plot of a plan job",
        "GET",
        "/v1/scenarios/{job}/plots/unserved_by_ward.png",
        dict,
        {"planner": 404},
    ),
    ("plots of no job", "GET", "/v1/scenarios/{unknown}/plots", dict, {"planner": 404}),
    (
        "plot of no job",
        "GET",
        "/v1/scenarios/{unknown}/plots/unserved_by_ward.png",
        dict,
        {"planner": 404},
    ),
    ("token", "POST", "/v1/tokens", lambda: {"json": {"role": "planner"}}, {"coordinator": 201}),
    ("revoke", "DELETE", "/v1/tokens/t_000000000000", dict, {"coordinator": 404}),
]


def _expected(role: str, allowed: dict[str, int]) -> int:
    if role in allowed:
        return allowed[role]
    return 401 if role in ("none", "revoked") else 403


def _check_role(world: World, role: str) -> None:
    health = world.call(role, "GET", "/v1/health")
    assert health.status_code == 200
    for name, method, template, arguments, allowed in MATRIX:
        response = world.call(role, method, world.path(template), **arguments())
        expected = _expected(role, allowed)
        assert response.status_code == expected, (name, role, response.text)
        if expected == OK and template.endswith(".png"):
            assert response.headers["content-type"] == "image/png", (name, role)
            assert response.content.startswith(b"\x89PNG\r\n\x1a\n"), (name, role)
        if expected in (401, 403, 404):
            assert response.json().keys() == {"detail"}, (name, role)
            assert isinstance(response.json()["detail"], str)


def _strings_of(day: Day, needs: set[str]) -> set[str]:
    """Residents' names, addresses, phones and ids of ``needs``."""
    found = set()
    for need in day.needs:
        if need.id in needs:
            found |= {s for s in (need.name, need.address, need.phone, need.resident) if s}
    return found


def _check_volunteer_sees_only_their_own(world: World) -> None:
    mine = {a.need for a in world.plan.assignments if a.volunteer == world.me}
    others = {n.id for n in world.day.needs} - mine
    secret = _strings_of(world.day, others) - _strings_of(world.day, mine)
    seen = []
    for _, method, template, arguments, _allowed in MATRIX:
        seen.append(world.call("volunteer", method, world.path(template), **arguments()).text)
    day = world.call("volunteer", "GET", "/v1/me/assignments", params={"date": DATE}).json()
    assert {a["need_id"] for a in day["assignments"]} == mine
    text = "\n".join(seen)
    # Whole values only: "29 Larkspindle Road" is not in "129 Larkspindle Road".
    leaked = sorted(s for s in secret if re.search(rf"(?<!\w){re.escape(s)}(?![\w])", text))
    assert leaked == []
    assert len(secret) > 1000  # the check had something to find


def _check_planners_and_partners_see_no_contacts(world: World) -> None:
    personal = _strings_of(world.day, {n.id for n in world.day.needs})
    personal = {s for s in personal if not s.startswith("R")}  # names, addresses, phones
    texts = [
        world.call("planner", "GET", f"/v1/planner/days/{DATE}/aggregates").text,
        world.call("planner", "GET", f"/v1/jobs/{world.job_id}").text,
        world.call("planner", "GET", f"/v1/scenarios/{world.scenario_job}").text,
        world.call("planner", "GET", f"/v1/scenarios/{world.scenario_job}/plots").text,
        world.call("partner", "GET", "/v1/partner/needs", params={"date": DATE}).text,
    ]
    assert not [s for s in personal if any(s in t for t in texts)]
    aggregates = world.call("planner", "GET", f"/v1/planner/days/{DATE}/aggregates").json()
    assert sum(w["needs"] for w in aggregates["by_ward"].values()) == 400


def _check_partner_sees_only_its_own(world: World) -> None:
    partner_of = {a.need: a.partner for a in world.plan.assignments}
    for token, partner in (
        (world.tokens["partner"], world.partner),
        (world.other_partner_token, world.other_partner),
    ):
        body = world.client.get(
            "/v1/partner/needs", params={"date": DATE}, headers=bearer(token or "")
        ).json()
        assert body["partner_id"] == partner
        got = {n["need_id"] for n in body["needs"]}
        assert got == {n for n, p in partner_of.items() if p == partner}
        capacity = next(p for p in world.day.partners if p.id == partner).capacity
        for kind, places in capacity.items():
            used = sum(1 for n in got if next(x for x in world.day.needs if x.id == n).kind is kind)
            assert body["capacity_left"][kind.value] == places - used


def test_every_endpoint_for_every_role_and_what_each_sees(world: World) -> None:
    # One test over the shared world: split across workers, it would be planned twice.
    for role in ROLES:
        _check_role(world, role)
    _check_volunteer_sees_only_their_own(world)
    _check_planners_and_partners_see_no_contacts(world)
    _check_partner_sees_only_its_own(world)


@pytest.fixture
def fresh(tmp_path: Path) -> str:
    """An empty database (no day, no plan)."""
    return f"sqlite:///{tmp_path / 'db' / 'kst-match.sqlite3'}"


def test_rate_limits_answer_429(fresh: str) -> None:
    settings = Settings(
        database_url=fresh, report_rate_limit="3/minute", token_rate_limit="2/minute"
    )
    volunteer = bearer(add_token(fresh, "volunteer", volunteer="V00001"))
    hub = bearer(add_token(fresh, "coordinator"))
    with TestClient(create_app(settings)) as client:
        # Counted before the assignment is looked up: unknown ones count too.
        path = "/v1/me/assignments/1/report"
        codes = [client.post(path, headers=volunteer, **_report()).status_code for _ in range(4)]
        assert codes == [404, 404, 404, 429]
        codes = [
            client.post("/v1/tokens", json={"role": "planner"}, headers=hub).status_code
            for _ in range(3)
        ]
        assert codes == [201, 201, 429]
        response = client.post("/v1/tokens", json={"role": "planner"}, headers=hub)
        assert response.json().keys() == {"detail"}
        assert int(response.headers["Retry-After"]) >= 1
    with TestClient(create_app(Settings(database_url=fresh))) as client:  # the defaults
        codes = {client.post(path, headers=volunteer, **_report()).status_code for _ in range(50)}
        assert codes == {404}


def test_cors_is_off_unless_origins_are_set(fresh: str) -> None:
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization",
    }
    with TestClient(create_app(Settings(database_url=fresh))) as client:
        response = client.options("/v1/me/assignments", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    settings = Settings(database_url=fresh, cors_origins=("https://app.example",))
    with TestClient(create_app(settings)) as client:
        response = client.options("/v1/me/assignments", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        other = {**preflight, "Origin": "https://elsewhere.example"}
        response = client.options("/v1/me/assignments", headers=other)
        assert "access-control-allow-origin" not in response.headers


def test_the_openapi_document_lists_every_endpoint_with_examples(fresh: str) -> None:
    with TestClient(create_app(Settings(database_url=fresh))) as client:
        document = client.get("/openapi.json").json()
    operations = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert len(operations) == 23
    schemas = document["components"]["schemas"]
    for name in ("ReportRequest", "MyDay", "PartnerDay", "UploadResult", "ScenarioRequest"):
        assert schemas[name]["examples"], name
    upload = document["paths"]["/v1/days/{date}/{kind}"]["post"]["requestBody"]["content"]
    assert set(upload) == {"text/csv", "application/json"}


def test_what_start_up_made_is_out_of_the_collectors_sight_while_serving(fresh: str) -> None:
    """A full collection pauses every request in flight; the objects of start-up (modules, the
    app, the schema: over 10,000) are frozen while the server runs, and unfrozen when it
    stops."""
    with TestClient(create_app(Settings(database_url=fresh))) as client:
        assert client.get("/v1/health").status_code == 200
        frozen = gc.get_freeze_count()
    assert frozen > 10_000
    assert gc.get_freeze_count() == 0


def test_a_malformed_request_is_refused_for_its_caller_first(fresh: str) -> None:
    """The street champion's two routes check their caller in their own worker thread, after
    FastAPI has validated the request: a caller who may not call them still gets 401, 403 or
    429 for a malformed request, as from every other route, and only a caller who may gets
    422."""
    settings = Settings(database_url=fresh, report_rate_limit="2/minute")
    volunteer = add_token(fresh, "volunteer", volunteer="V00001")
    coordinator = add_token(fresh, "coordinator")
    revoked = add_token(fresh, "volunteer", volunteer="V00002")
    store = Store(fresh)
    with store.write() as session:
        [token_id] = [t.token_id for t, u in auth.tokens(session) if u.volunteer_id == "V00002"]
        assert auth.revoke(session, token_id)
    store.dispose()
    bad_day = ("GET", "/v1/me/assignments?date=2026-02-30", {})
    bad_report = ("POST", "/v1/me/assignments/1/report", {"json": {"outcome": "maybe"}})
    bad_path = ("POST", "/v1/me/assignments/0/report", _report())
    with TestClient(create_app(settings)) as client:
        for method, path, arguments in (bad_day, bad_report, bad_path):
            for headers, expected in (
                ({}, 401),
                (bearer(revoked), 401),
                (bearer("not a token"), 401),
                (bearer(coordinator), 403),
            ):
                response = client.request(method, path, headers=headers, **arguments)
                assert response.status_code == expected, (path, headers, response.text)
                assert response.json().keys() == {"detail"}
                assert isinstance(response.json()["detail"], str)
                if expected == 401:
                    assert response.headers["WWW-Authenticate"] == "Bearer"
        # A volunteer's malformed requests: 422; malformed reports count against the limit.
        codes = [
            client.request(method, path, headers=bearer(volunteer), **arguments).status_code
            for method, path, arguments in (bad_day, bad_report, bad_path, bad_report)
        ]
        assert codes == [422, 422, 422, 429]
        # A revoked token is refused on a well-formed request too.
        day = client.get("/v1/me/assignments", params={"date": DATE}, headers=bearer(revoked))
        assert day.status_code == 401
