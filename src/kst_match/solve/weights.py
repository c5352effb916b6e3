"""The objective's weights, in one place.

The objective is lexicographic: serve the most needs weighted by priority, then keep
continuity, then travel the least, then balance workload. It is realised as one weighted sum in
cost units of one second of travel, each level weighted above all that the levels below can
trade against it:

- serving a normal need is worth ``SERVE`` (10^8 s), a high-priority one 3x, an urgent one
  10x: more than all the continuity and travel of a day together, so nothing but another need
  ever justifies dropping one, and one urgent need outweighs nine normal ones;
- keeping a resident's previous volunteer is worth ``CONTINUITY`` (50,000 s, about 14 hours:
  more travel than any volunteer's daily limit, so no travel saving breaks continuity); several
  needs of one resident on one volunteer, ``TOGETHER`` each;
- travel is counted in seconds;
- workload balance is the last tie-breaker: ``BALANCE_PER_TASK`` seconds for each task on the
  busiest volunteer's day.

With equity on (``--equity``), serving a need is also worth ``EQUITY_PER_DECILE`` (10^6 s) for
each IMD decile its LSOA lies below the least deprived (decile 10): at most 9 x 10^6 s, in
decile 1. That is more than any day's travel and preferences, so between two needs of one
priority the more deprived wins whatever the travel; but it is under a tenth of ``SERVE``, far
below the gap between priorities (2 x ``SERVE`` from normal to high), so no urgent need is ever
given up for a normal or high one, and nine normal needs of the most deprived decile
(9 x 1.09 x ``SERVE``) still weigh less than one urgent need (10 x ``SERVE``).
"""

from __future__ import annotations

from kst_match.model import Need, Priority

SERVE = 100_000_000
PRIORITY_WEIGHT: dict[Priority, int] = {Priority.urgent: 10, Priority.high: 3, Priority.normal: 1}
CONTINUITY = 50_000
TOGETHER = 20_000
BALANCE_PER_TASK = 60
# Re-planning: moving a need to another volunteer than the one it had this morning costs as
# much as breaking continuity, so changes to routes stay small.
KEEP_ASSIGNED = 50_000


EQUITY_PER_DECILE = SERVE // 100
LEAST_DEPRIVED_DECILE = 10


def serve_value(priority: Priority) -> int:
    """Cost of leaving one need of this priority unserved."""
    return SERVE * PRIORITY_WEIGHT[priority]


def equity_bonus(need: Need) -> int:
    """What equity adds to the value of serving a need: ``EQUITY_PER_DECILE`` per IMD decile
    below the least deprived; nothing for a need whose LSOA is not known."""
    if need.imd_decile is None:
        return 0
    return EQUITY_PER_DECILE * (LEAST_DEPRIVED_DECILE - need.imd_decile)


def need_value(need: Need, equity: bool = False) -> int:
    """Cost of leaving this need unserved: by its priority, plus, with ``equity``, by the
    deprivation of its LSOA."""
    return serve_value(need.priority) + (equity_bonus(need) if equity else 0)
