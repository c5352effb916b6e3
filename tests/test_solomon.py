"""Routes as good as the best open solvers: Solomon instances through the daily plan's pipeline.

Each instance is planned by ``make_plan`` (each customer a delivery collected at the depot, 25
volunteers at the depot, no handling time) with a deterministic rule, so the result is the same
on any machine; the routes are checked at full precision (double-precision Euclidean distances,
the instance's own windows and capacity) and their distance compared with the best known.
"""

from __future__ import annotations

import math

import pytest

from benchmarks.solomon_day import (
    SolomonTravel,
    check_routes,
    customer_of,
    read_bks,
    read_instance,
    solomon_day,
)
from kst_match.check import check_plan
from kst_match.model import StopKind
from kst_match.plan import make_plan
from kst_match.solve.stop import MaxIterations


def test_the_full_precision_check_measures_and_finds_faults() -> None:
    inst = read_instance("R101")
    # Customer 1 at (41, 49), the depot at (35, 35): there and back is 2 * sqrt(6^2 + 14^2).
    distance, errors = check_routes(inst, [[1]])
    assert distance == pytest.approx(2 * math.sqrt(232))
    assert any("missing" in e for e in errors)  # 99 customers are not served
    # Customer 2's window closes at 60: after customer 1 (served from 161 to 171) it is too
    # late.
    _, errors = check_routes(inst, [[1, 2], *[[c] for c in range(3, 101)]])
    assert any("customer 2 starts" in e for e in errors)


@pytest.mark.parametrize("name", ["R101", "RC105"])
def test_a_solomon_instance_within_5_percent_of_the_best_known(name: str) -> None:
    inst = read_instance(name)
    day = solomon_day(inst)
    travel = SolomonTravel(inst.unit_s)
    plan = make_plan(
        day,
        travel,
        MaxIterations(20),
        onboard_limit_min=24 * 60,
        workers=1,
        handling_s=0,
        per_item_s=0,
    )
    assert check_plan(day, plan, travel) == []
    assert len(plan.assignments) == 100
    routes = [
        [customer_of(s.need) for s in r.stops if s.kind is StopKind.deliver and s.need]
        for r in plan.routes
    ]
    distance, errors = check_routes(inst, routes)
    assert errors == []
    assert distance <= 1.05 * read_bks()[name]["distance_only"]


def test_the_warm_start_follows_an_iteration_rule_to_the_same_plan() -> None:
    inst = read_instance("R101")
    day = solomon_day(inst)
    travel = SolomonTravel(inst.unit_s)

    def routes() -> tuple[str, list[list[str | None]]]:
        plan = make_plan(
            day,
            travel,
            MaxIterations(3),
            onboard_limit_min=24 * 60,
            workers=1,
            handling_s=0,
            per_item_s=0,
        )
        source = str(plan.kpis["solver"]["routing_first_solution"])  # type: ignore[index]
        return source, [[s.need for s in r.stops] for r in plan.routes]

    first = routes()
    assert first[0] == "PyVRP"
    assert routes() == first
