"""The objective's weights, in one place.

The objective is lexicographic in intent: serve the most needs weighted by priority, then keep
continuity, then travel the least, then balance workload. It is realised as one weighted sum in
cost units of one second of travel, with each level's weight above anything the levels below
can trade against it on one need:

- serving a normal need is worth ``SERVE`` (100,000 s, about 28 hours of travel: more than any
  volunteer's whole day), a high-priority one 3x, an urgent one 10x; so no amount of travel or
  continuity ever justifies dropping a need, and one urgent need outweighs nine normal ones;
- keeping a resident's previous volunteer is worth ``CONTINUITY`` (3,600 s: up to an hour of
  extra travel); several needs of one resident on one volunteer, ``TOGETHER`` each;
- workload balance is the last tie-breaker: ``BALANCE_PER_TASK`` seconds for each task on the
  busiest volunteer's day.
"""

from __future__ import annotations

from kst_match.model import Priority

SERVE = 100_000
PRIORITY_WEIGHT: dict[Priority, int] = {Priority.urgent: 10, Priority.high: 3, Priority.normal: 1}
CONTINUITY = 3_600
TOGETHER = 1_800
BALANCE_PER_TASK = 60
# Re-planning: moving a need to another volunteer than the one it had this morning costs as
# much as breaking continuity, so changes to routes stay small.
KEEP_ASSIGNED = 3_600


def serve_value(priority: Priority) -> int:
    """Cost of leaving one need of this priority unserved."""
    return SERVE * PRIORITY_WEIGHT[priority]
