"""Bind a plan to what it was made from, and refuse a plan that was edited or outlived its inputs.

A plan records its day's folder (absolute path), the SHA-256 of every file read, and the SHA-256
of itself: computed over the plan's canonical JSON without the ``sha256`` field (keys sorted, no
spaces, UTF-8; see ``docs/plan-json.md``). A re-plan reads the day from the recorded folder and
checks both hashes before it trusts anything in the plan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kst_match.inputs import FILES, _find
from kst_match.model import InputFile, Plan, Provenance

# Roles of the files a re-plan reads again: the day's own files, and new needs added by an
# earlier re-plan. A plan's other inputs (the previous plan, its events) are recorded only.
DAY_ROLES = tuple(FILES)
NEW_NEEDS = "new_needs"
MAX_PLAN_BYTES = 256 * 1024 * 1024  # a plan of 4,000 needs is about 10 MB


class ProvenanceError(ValueError):
    """A plan that cannot be trusted: each problem names the file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(value: Any) -> bytes:
    """The canonical form hashed: keys sorted, no whitespace, UTF-8, non-ASCII kept."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _digest_of(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(
        canonical_json({k: v for k, v in data.items() if k != "sha256"})
    ).hexdigest()


def plan_digest(plan: Plan) -> str:
    """The plan's own hash, over its JSON as written (so a file read back gives the same)."""
    return _digest_of(json.loads(plan.model_dump_json()))


def day_files(folder: Path) -> dict[str, Path]:
    """The files ``inputs.read_day`` reads for a day in ``folder``, by role (the bundled
    partners and sites where the folder has none)."""
    found: dict[str, Path] = {}
    for role in DAY_ROLES:
        path, _, _ = _find(Path(folder), role)
        if path is not None:
            found[role] = path.resolve()
    return found


def stamp(plan: Plan, folder: Path, extra: Iterable[tuple[str, Path]] = ()) -> Plan:
    """Record on ``plan`` its day's ``folder`` and the hash of each file read (the day's, then
    ``extra``: role and path), then the plan's own hash. Returns the same plan."""
    files = [
        InputFile(role=role, path=str(Path(path).resolve()), sha256=sha256_file(path))
        for role, path in [*day_files(folder).items(), *extra]
    ]
    plan.inputs = Provenance(folder=str(Path(folder).resolve()), files=files)
    return seal(plan)


def seal(plan: Plan) -> Plan:
    """Set ``plan.sha256``; call again after any change to the plan."""
    plan.sha256 = None
    plan.sha256 = plan_digest(plan)
    return plan


def read_sealed(path: Path) -> Plan:
    """Read a plan file, refusing one that is not valid, carries no hash, or was edited."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ProvenanceError([f"{name}: cannot be read ({exc.strerror})"]) from exc
    if len(raw) > MAX_PLAN_BYTES:
        raise ProvenanceError([f"{name}: larger than {MAX_PLAN_BYTES // 2**20} MB"])
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProvenanceError([f"{name}: not a plan file (not valid JSON: {exc})"]) from exc
    if not isinstance(data, dict):
        raise ProvenanceError([f"{name}: not a plan file (not a JSON object)"])
    claimed = data.get("sha256")
    if not isinstance(claimed, str):
        raise ProvenanceError(
            [f"{name}: has no sha256, so it cannot be checked; plan the day again"]
        )
    try:
        actual = _digest_of(data)
    except ValueError as exc:  # NaN or infinity, which a written plan never holds
        raise ProvenanceError([f"{name}: not a plan file ({exc})"]) from exc
    if actual != claimed:
        raise ProvenanceError(
            [f"{name}: has been edited since it was written (its SHA-256 does not match)"]
        )
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProvenanceError([f"{name}, {where}: {first['msg']}"]) from exc
    if plan.inputs is None:
        raise ProvenanceError([f"{name}: records no input files; plan the day again"])
    return plan


def check_inputs(plan: Plan, plan_file: Path, folder: Path) -> list[str]:
    """Problems with the files a re-plan of ``plan`` reads: the day in ``folder`` (the recorded
    one, or another holding the same files) and new needs added earlier; each names the file."""
    if not Path(folder).is_dir():
        return [f"{plan_file}: its day's folder {folder} is missing (--data DIR if it moved)"]
    problems: list[str] = []
    recorded = plan.inputs.files if plan.inputs else []
    now = day_files(folder)
    for f in recorded:
        if f.role in DAY_ROLES:
            path = now.get(f.role)
            if path is None:
                problems.append(f"{plan_file}: its {f.role} file is not in {folder}")
                continue
        elif f.role == NEW_NEEDS:
            path = Path(f.path)
        else:
            continue
        if not path.is_file():
            problems.append(f"{plan_file}: its input {path} is missing")
        elif sha256_file(path) != f.sha256:
            problems.append(
                f"{plan_file}: its input {path} has changed since the plan was made"
                " (SHA-256 differs); plan the day again"
            )
    roles = {f.role for f in recorded}
    for role, path in now.items():
        if role not in roles:
            problems.append(f"{plan_file}: {path} was not an input of this plan")
    return problems


def new_needs_files(plan: Plan) -> list[Path]:
    """New-needs files added to the day by earlier re-plans, in the order they were added."""
    files = plan.inputs.files if plan.inputs else []
    return [Path(f.path) for f in files if f.role == NEW_NEEDS]
