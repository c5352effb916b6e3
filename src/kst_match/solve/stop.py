"""Stopping rules for the improvement search, as objects.

A complete first solution is always built, however long it takes, and never counts against a
rule's budget of iterations; improvement then runs until a rule fires. A rule looks at the
search's ``Progress`` after each solution the local search accepts: iterations are accepted
solutions, so ``MaxIterations`` and ``NoImprovement`` give the same plan on any machine, busy or
idle, while ``MaxRuntime`` trades that for a bound on wall time. Rules combine with ``AnyOf``
(the first to fire stops the search).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """Where a search is: ``iterations`` accepted solutions since the first, ``since_best`` of
    them since the best was found, ``elapsed_s`` wall seconds since the rule's clock started
    (the start of the plan)."""

    iterations: int
    since_best: int
    elapsed_s: float


class StoppingCriterion(ABC):
    """Decides when the improvement search stops."""

    @abstractmethod
    def fired(self, progress: Progress) -> bool:
        """True once the search should stop."""

    @property
    def deterministic(self) -> bool:
        """True if the rule never looks at the clock, so the same input gives the same plan."""
        return True

    @property
    def seconds(self) -> float | None:
        """The wall-time budget in seconds, if the rule has one."""
        return None

    @property
    def name(self) -> str:
        return type(self).__name__

    def share(self, fraction: float) -> StoppingCriterion:
        """The rule for a part of the work worth ``fraction`` of the whole wall time (areas
        solved side by side); rules that do not count time stay as they are."""
        return self

    def split(self, fraction: float) -> tuple[StoppingCriterion, StoppingCriterion]:
        """The rules for two searches one after the other, the first doing ``fraction`` of
        the work: a time rule's first part ends at that share of the limit and the second at
        the limit; a count is divided between them."""
        return self, self


@dataclass(frozen=True)
class MaxRuntime(StoppingCriterion):
    """Stop after ``seconds`` of wall time, counted from the start of the plan."""

    limit_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.limit_s) and self.limit_s > 0):
            raise ValueError(f"a time limit must be a positive number of seconds: {self.limit_s}")

    def fired(self, progress: Progress) -> bool:
        return progress.elapsed_s >= self.limit_s

    @property
    def deterministic(self) -> bool:
        return False

    @property
    def seconds(self) -> float | None:
        return self.limit_s

    def share(self, fraction: float) -> StoppingCriterion:
        return MaxRuntime(max(0.05, self.limit_s * fraction))

    def split(self, fraction: float) -> tuple[StoppingCriterion, StoppingCriterion]:
        return self.share(fraction), self

    def __str__(self) -> str:
        return f"time limit {self.limit_s:g} s"


@dataclass(frozen=True)
class MaxIterations(StoppingCriterion):
    """Stop after ``iterations`` accepted solutions."""

    iterations: int

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise ValueError("iterations must not be negative")

    def fired(self, progress: Progress) -> bool:
        return progress.iterations >= self.iterations

    def split(self, fraction: float) -> tuple[StoppingCriterion, StoppingCriterion]:
        first = min(self.iterations, round(self.iterations * fraction))
        return MaxIterations(first), MaxIterations(self.iterations - first)

    def __str__(self) -> str:
        return f"{self.iterations} iterations"


@dataclass(frozen=True)
class NoImprovement(StoppingCriterion):
    """Stop after ``iterations`` accepted solutions in a row that do not improve the best."""

    iterations: int

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise ValueError("iterations must not be negative")

    def fired(self, progress: Progress) -> bool:
        return progress.since_best >= self.iterations

    def split(self, fraction: float) -> tuple[StoppingCriterion, StoppingCriterion]:
        first = min(self.iterations, round(self.iterations * fraction))
        return NoImprovement(first), NoImprovement(self.iterations - first)

    def __str__(self) -> str:
        return f"{self.iterations} iterations without improvement"


@dataclass(frozen=True)
class FirstFeasible(StoppingCriterion):
    """Keep the first solution: no improvement at all."""

    def fired(self, progress: Progress) -> bool:
        return True

    def __str__(self) -> str:
        return "first solution"


@dataclass(frozen=True)
class AnyOf(StoppingCriterion):
    """Stop when any of ``criteria`` fires."""

    criteria: tuple[StoppingCriterion, ...]

    def fired(self, progress: Progress) -> bool:
        return any(c.fired(progress) for c in self.criteria)

    def which(self, progress: Progress) -> StoppingCriterion | None:
        """The first of the rules that has fired."""
        return next((c for c in self.criteria if c.fired(progress)), None)

    @property
    def deterministic(self) -> bool:
        return all(c.deterministic for c in self.criteria)

    @property
    def seconds(self) -> float | None:
        limits = [c.seconds for c in self.criteria if c.seconds is not None]
        return min(limits) if limits else None

    def share(self, fraction: float) -> StoppingCriterion:
        return AnyOf(tuple(c.share(fraction) for c in self.criteria))

    def split(self, fraction: float) -> tuple[StoppingCriterion, StoppingCriterion]:
        parts = [c.split(fraction) for c in self.criteria]
        return AnyOf(tuple(a for a, _ in parts)), AnyOf(tuple(b for _, b in parts))

    def __str__(self) -> str:
        return " or ".join(str(c) for c in self.criteria)


def fired_rule(rule: StoppingCriterion, progress: Progress) -> str:
    """The name of the rule that stopped a search at ``progress`` (``""`` if none fired: the
    search ran out of moves)."""
    if isinstance(rule, AnyOf):
        hit = rule.which(progress)
        return str(hit) if hit is not None else ""
    return str(rule) if rule.fired(progress) else ""
