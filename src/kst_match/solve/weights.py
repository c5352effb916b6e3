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
"""

from __future__ import annotations

from kst_match.model import Priority

SERVE = 100_000_000
PRIORITY_WEIGHT: dict[Priority, int] = {Priority.urgent: 10, Priority.high: 3, Priority.normal: 1}
CONTINUITY = 50_000
TOGETHER = 20_000
BALANCE_PER_TASK = 60
# Re-planning: moving a need to another volunteer than the one it had this morning costs as
# much as breaking continuity, so changes to routes stay small.
KEEP_ASSIGNED = 50_000


def serve_value(priority: Priority) -> int:
    """Cost of leaving one need of this priority unserved."""
    return SERVE * PRIORITY_WEIGHT[priority]
