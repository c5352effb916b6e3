"""Partners' places given out before routing (``kst_match.solve.partners.admit``): the routing
plans only needs a partner can take, and a place left unused still goes to a need refused."""

from __future__ import annotations

from kst_match.model import Day, Partner, Reason
from kst_match.solve.day import solve_day
from kst_match.solve.finish import finish
from kst_match.solve.partners import admit, bind
from kst_match.solve.places import Places
from kst_match.solve.vehicles import fresh_vehicles
from kst_match.triage import triage
from tests.test_plan import (
    DATE,
    FOODBANK,
    PHARMACY,
    SMALL_DAY_RULE,
    TRAVEL,
    need,
    plan_of,
    served_by,
    volunteer,
)

ONE_PARCEL = Partner(id="hub", name="Hub", services="food_parcel", capacity="food_parcel:1")


def day_of(needs, volunteers, partners=(ONE_PARCEL,)) -> Day:  # type: ignore[no-untyped-def]
    return Day(
        date=DATE,
        needs=tuple(needs),
        volunteers=tuple(volunteers),
        partners=tuple(partners),
        sites=(FOODBANK, PHARMACY),
    )


def test_of_two_needs_of_one_priority_the_nearer_gets_the_only_place() -> None:
    # The volunteer lives by the food bank (0, 0): "near" is 200 m on, "far" 3 km.
    day = day_of(
        [
            need("far", 30, 0, kind="food_parcel", site="fb"),
            need("near", 2, 0, kind="food_parcel", site="fb"),
        ],
        [volunteer("v", 0, 0)],
    )
    assert admit(day, triage(day)) == {"far"}


def test_priority_comes_before_distance() -> None:
    day = day_of(
        [
            need("far", 30, 0, kind="food_parcel", site="fb", priority="high"),
            need("near", 2, 0, kind="food_parcel", site="fb"),
        ],
        [volunteer("v", 0, 0)],
    )
    assert admit(day, triage(day)) == {"near"}


def test_nothing_is_refused_while_some_partner_has_room_for_all() -> None:
    # The hub has one place, the second partner no limit: each need can have a place.
    helpers = Partner(id="helpers", name="Helpers", services="food_parcel")
    day = day_of(
        [
            need("a", 30, 0, kind="food_parcel", site="fb"),
            need("b", 2, 0, kind="food_parcel", site="fb"),
        ],
        [volunteer("v", 0, 0), volunteer("w", 1, 0, partner="helpers")],
        (ONE_PARCEL, helpers),
    )
    assert admit(day, triage(day)) == frozenset()


def test_a_refused_need_takes_the_place_its_holder_cannot_use() -> None:
    # "near" gets the place, but its window closes before the volunteer's shift starts; the
    # place is left unused, so the last insertion pass gives it to "far".
    day, plan = plan_of(
        [
            need(
                "near",
                2,
                0,
                kind="food_parcel",
                site="fb",
                window_start="07:00",
                window_end="08:00",
            ),
            need("far", 30, 0, kind="food_parcel", site="fb"),
        ],
        [volunteer("v", 0, 0)],
        (ONE_PARCEL,),
    )
    assert admit(day, triage(day)) == {"far"}
    assert served_by(plan) == {"far": "v"}
    assert [u.need for u in plan.unserved] == ["near"]
    assert plan.unserved[0].reason is not Reason.partner_capacity


def test_the_need_cheapest_to_move_gives_up_the_place() -> None:
    # Partners "p" (volunteer a, at 0) and "q" (volunteer b, 2 km east) have one welfare visit
    # place each. A search told to keep both visits with a puts both on a, and the count must
    # take one off. "x" lives 100 m from b and "y" 100 m from a: moving x to b saves about
    # 3.6 km of a's walk and adds 0.2 km to b's, moving y would save 0.2 km and add 3.8 km.
    # So x moves; the partner count alone (both needs alike) could have moved either.
    p = Partner(id="p", name="P", services="welfare_visit", capacity="welfare_visit:1")
    q = Partner(id="q", name="Q", services="welfare_visit", capacity="welfare_visit:1")
    day = day_of(
        [need("x", 19, 0, kind="welfare_visit"), need("y", 1, 0, kind="welfare_visit")],
        [
            volunteer("a", 0, 0, partner="p", skills="dbs_checked"),
            volunteer("b", 20, 0, partner="q", skills="dbs_checked"),
        ],
        (p, q),
    )
    vehicles = fresh_vehicles(day)
    places = Places.of(TRAVEL, day, day.needs, vehicles)
    both_on_a = solve_day(day, vehicles, places, SMALL_DAY_RULE, keep={"x": "a", "y": "a"})
    assert both_on_a.served_by == {"x": "a", "y": "a"}
    done = finish(day, vehicles, TRAVEL, both_on_a, weigh_moves=True)
    assert done.served_by == {"x": "b", "y": "a"}
    assert done.partner_of == {"x": "q", "y": "p"}


def test_bound_needs_keep_every_partners_count_within_its_places() -> None:
    # "small" has one place and volunteer a; "big" five and volunteer b, more than the three
    # needs could ask, so its places cannot run out. With n1 and n2 both on a, the count keeps
    # one of them with small; the other, and n3 (waiting), may only go to b; the one kept may
    # stay with a or go to b.
    small = Partner(id="small", name="S", services="welfare_visit", capacity="welfare_visit:1")
    big = Partner(id="big", name="B", services="welfare_visit", capacity="welfare_visit:5")
    day = day_of(
        [need(n, 2, k, kind="welfare_visit") for k, n in enumerate(("n1", "n2", "n3"))],
        [
            volunteer("a", 1, 0, partner="small", skills="dbs_checked"),
            volunteer("b", 8, 0, partner="big", skills="dbs_checked"),
        ],
        (small, big),
    )
    allowed, placeless = bind(day, triage(day), {"n1": "a", "n2": "a"}, ["n3"])
    assert placeless == frozenset()
    kept = [n for n in ("n1", "n2") if allowed[n] == {"a", "b"}]
    assert len(kept) == 1
    assert allowed == {
        kept[0]: {"a", "b"},
        **{n: {"b"} for n in ("n1", "n2", "n3") if n not in kept},
    }


def test_a_served_need_moves_partner_when_that_gives_a_waiting_need_a_place() -> None:
    # "p" (volunteer a, who speaks Polish) and "q" (volunteer b) have one welfare visit place
    # each. The plan serves y with a, holding p's place; x, waiting, needs Polish, so only p
    # can take x. Kept where it is, y would leave x without a place; moved to q, both have one.
    p = Partner(id="p", name="P", services="welfare_visit", capacity="welfare_visit:1")
    q = Partner(id="q", name="Q", services="welfare_visit", capacity="welfare_visit:1")
    day = day_of(
        [
            need("x", 1, 0, kind="welfare_visit", language="polish", language_required=True),
            need("y", 2, 0, kind="welfare_visit"),
        ],
        [
            volunteer("a", 0, 0, partner="p", skills="dbs_checked", languages="polish"),
            volunteer("b", 20, 0, partner="q", skills="dbs_checked"),
        ],
        (p, q),
    )
    allowed, placeless = bind(day, triage(day), {"y": "a"}, ["x"])
    assert placeless == frozenset()
    assert allowed == {"x": {"a"}, "y": {"b"}}
