"""Plans bound to their inputs: a re-plan reads the recorded day and refuses an edited plan or
changed inputs, naming the file."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kst_match.cli import app
from kst_match.inputs import write_records
from kst_match.model import Need, Partner, Plan, Site, Volunteer
from kst_match.provenance import ProvenanceError, plan_digest, read_sealed, seal
from tests.test_replan import morning

runner = CliRunner()
T = TypeVar("T")


def _output(result: object) -> str:
    return result.output + (getattr(result, "stderr", "") or "")  # type: ignore[attr-defined]


def _east(records: Sequence[T]) -> list[T]:
    """Moved 800 m east: the test day's west edge lies across the Thames, outside the borough."""
    return [r.model_copy(update={"lon": r.lon + 0.012}) for r in records]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small custom day in ``day/`` (ids unlike the bundled day's), planned into ``out/``."""
    root = tmp_path_factory.mktemp("custom")
    day, _ = morning()
    folder = root / "day"
    folder.mkdir()
    write_records(folder / "needs.csv", _east(day.needs), Need)
    write_records(folder / "volunteers.csv", _east(day.volunteers), Volunteer)
    write_records(folder / "partners.csv", day.partners, Partner)
    write_records(folder / "sites.csv", _east(day.sites), Site)
    result = runner.invoke(
        app, ["plan", "--data", str(folder), "--iterations", "50", "--out", str(root / "out")]
    )
    assert result.exit_code == 0, _output(result)
    return root


@pytest.fixture
def copy(planned: Path, tmp_path: Path) -> Path:
    """A copy of the planned day and its outputs, with the plan re-recorded for the copy."""
    shutil.copytree(planned / "day", tmp_path / "day")
    shutil.copytree(planned / "out", tmp_path / "out")
    plan_file = tmp_path / "out" / "plan.json"
    plan = Plan.model_validate_json(plan_file.read_text(encoding="utf-8"))
    plan.inputs.folder = str((tmp_path / "day").resolve())  # type: ignore[union-attr]
    for f in plan.inputs.files:  # type: ignore[union-attr]
        f.path = str((tmp_path / "day" / Path(f.path).name).resolve())
    plan_file.write_text(seal(plan).model_dump_json(indent=2), encoding="utf-8")
    (tmp_path / "events.json").write_text(json.dumps({"now": "09:00"}), encoding="utf-8")
    return tmp_path


def _replan(root: Path, *extra: str) -> object:
    args = ["replan", "--plan", str(root / "out" / "plan.json")]
    args += ["--events", str(root / "events.json"), "--iterations", "50"]
    # A wide console: messages name long paths, which must not be wrapped.
    return runner.invoke(app, [*args, "--out", str(root / "new"), *extra], env={"COLUMNS": "500"})


def test_the_plan_records_its_folder_and_the_hash_of_each_input(planned: Path) -> None:
    plan = read_sealed(planned / "out" / "plan.json")
    assert plan.inputs is not None
    assert plan.inputs.folder == str((planned / "day").resolve())
    recorded = {f.role: f for f in plan.inputs.files}
    assert set(recorded) == {"needs", "volunteers", "partners", "sites"}
    for role, f in recorded.items():
        path = planned / "day" / f"{role}.csv"
        assert f.path == str(path.resolve())
        assert f.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_plan_hash_is_computed_as_documented(planned: Path) -> None:
    # docs/plan-json.md: SHA-256 of the JSON without "sha256", keys sorted, no spaces, UTF-8.
    data = json.loads((planned / "out" / "plan.json").read_text(encoding="utf-8"))
    claimed = data.pop("sha256")
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == claimed
    assert plan_digest(read_sealed(planned / "out" / "plan.json")) == claimed


def test_replan_without_data_reads_the_recorded_folder(copy: Path) -> None:
    # The custom day's ids (f1, ann, ...) are not in the bundled day: planning the bundled day
    # instead would fail, or plan needs the morning never had.
    result = _replan(copy)
    assert result.exit_code == 0, _output(result)
    new = read_sealed(copy / "new" / "plan.json")
    needs = {a.need for a in new.assignments} | {u.need for u in new.unserved}
    assert needs == {"f1", "f2", "f3", "p1", "p2", "w1", "v1", "c1"}
    assert new.version == 2
    assert new.inputs.folder == str((copy / "day").resolve())  # type: ignore[union-attr]
    roles = {f.role for f in new.inputs.files}  # type: ignore[union-attr]
    assert roles == {"needs", "volunteers", "partners", "sites", "plan", "events"}


def test_a_plan_with_an_edited_time_is_refused(copy: Path) -> None:
    plan_file = copy / "out" / "plan.json"
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    stop = next(s for r in data["routes"] for s in r["stops"] if s["kind"] == "deliver")
    stop["start"] = "16:59"  # one time edited, everything else as written
    plan_file.write_text(json.dumps(data, indent=2), encoding="utf-8")

    result = _replan(copy)

    assert result.exit_code == 1
    assert f"{copy / 'out' / 'plan.json'}: has been edited" in _output(result)
    assert not (copy / "new").exists()


def test_a_plan_without_its_hash_is_refused(copy: Path) -> None:
    plan_file = copy / "out" / "plan.json"
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    del data["sha256"]
    plan_file.write_text(json.dumps(data), encoding="utf-8")
    result = _replan(copy)
    assert result.exit_code == 1
    assert f"{copy / 'out' / 'plan.json'}: has no sha256" in _output(result)
    assert not (copy / "new").exists()


def test_a_plan_whose_input_changed_is_refused(copy: Path) -> None:
    needs = copy / "day" / "needs.csv"
    needs.write_text(needs.read_text(encoding="utf-8").replace("17:00", "16:00"), encoding="utf-8")

    result = _replan(copy)

    assert result.exit_code == 1
    assert f"its input {needs.resolve()} has changed" in _output(result)
    assert not (copy / "new").exists()


def test_data_overrides_the_folder_when_it_holds_the_same_files(copy: Path) -> None:
    moved = copy / "moved"
    (copy / "day").rename(moved)
    gone = _replan(copy)  # the recorded folder is gone
    assert gone.exit_code == 1
    assert f"its day's folder {(copy / 'day').resolve()} is missing" in _output(gone)
    result = _replan(copy, "--data", str(moved))
    assert result.exit_code == 0, _output(result)


def test_data_pointing_at_another_day_is_refused(copy: Path) -> None:
    from kst_match.paths import DEFAULT_DAY_DIR

    result = _replan(copy, "--data", str(DEFAULT_DAY_DIR))
    assert result.exit_code == 1
    assert "needs.csv has changed since the plan was made" in _output(result)
    assert not (copy / "new").exists()


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ({"now": "12:00", "failed": {"N00077": "not at home"}}, ", failed.N00077: unknown need"),
        ({"now": "25:00"}, ", now: '25:00' falls outside the day"),
        ('{"now": "12:00",', ": not valid JSON"),
    ],
)
def test_wrong_events_plan_nothing(copy: Path, events: object, message: str) -> None:
    file = copy / "events.json"
    file.write_text(events if isinstance(events, str) else json.dumps(events), encoding="utf-8")
    result = _replan(copy)
    assert result.exit_code == 1
    assert f"{file}{message}" in _output(result)
    assert not (copy / "new").exists()


def test_new_needs_added_once_stay_part_of_the_day(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_plan import need

    added = copy / "new.csv"
    write_records(added, _east([need("n1", 2, 3, kind="wellbeing_check")]), Need)
    monkeypatch.chdir(copy)
    result = _replan(copy, "--new-needs", "new.csv")  # a path relative to where it is run
    assert result.exit_code == 0, _output(result)
    # Version 3 from version 2, run elsewhere: the new need comes from the recorded file.
    second = copy / "second"
    (copy / "new").rename(second)
    monkeypatch.chdir(second)
    args = ["replan", "--plan", str(second / "plan.json"), "--events", str(copy / "events.json")]
    args += ["--iterations", "50", "--out", str(copy / "third")]
    result = runner.invoke(app, args, env={"COLUMNS": "500"})
    assert result.exit_code == 0, _output(result)
    third = read_sealed(copy / "third" / "plan.json")
    assert third.version == 3
    assert "n1" in {a.need for a in third.assignments} | {u.need for u in third.unserved}
    # ... and it is bound to that file too.
    added.write_text(added.read_text(encoding="utf-8").replace("09:00", "10:00"), encoding="utf-8")
    result = runner.invoke(app, args, env={"COLUMNS": "500"})
    assert result.exit_code == 1
    assert f"its input {added.resolve()} has changed" in _output(result)


def _sealed_json(value: object) -> bytes:
    """``value`` as JSON; an object gets a correct ``sha256``, so that its content is judged."""
    if isinstance(value, dict):
        body = {k: v for k, v in value.items() if k != "sha256"}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        value = {**body, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    return json.dumps(value).encode()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["date", "routes", "inputs", "version", "x"]), inner)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    raw=st.binary(max_size=64) | JSON.map(lambda v: json.dumps(v).encode()) | JSON.map(_sealed_json)
)
def test_any_bytes_as_a_plan_give_a_clear_refusal(raw: bytes) -> None:
    path = Path(tempfile.mkdtemp()) / "plan.json"
    path.write_bytes(raw)
    with pytest.raises(ProvenanceError) as caught:
        read_sealed(path)
    assert caught.value.problems[0].startswith(str(path))
    shutil.rmtree(path.parent)


def test_replan_carries_the_rows_rejected_at_input(planned: Path, tmp_path: Path) -> None:
    folder = tmp_path / "day"
    shutil.copytree(planned / "day", folder)
    needs = folder / "needs.csv"
    lines = needs.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    bad = lines[1].split(",")
    bad[header.index("id")], bad[header.index("priority")] = "bad1", "soonish"
    needs.write_text("\n".join([*lines, ",".join(bad)]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["plan", "--data", str(folder), "--iterations", "20", "--out", str(out)]
    )
    assert result.exit_code == 0, _output(result)
    (tmp_path / "events.json").write_text(json.dumps({"now": "09:00"}), encoding="utf-8")
    result = _replan(tmp_path)
    assert result.exit_code == 0, _output(result)
    first = read_sealed(out / "plan.json")
    second = read_sealed(tmp_path / "new" / "plan.json")
    # Row 10: the header (row 1) and the 8 good needs are above it.
    assert [(r.file, r.row, r.field, r.id) for r in second.rejected] == [
        ("needs.csv", 10, "priority", "bad1")
    ]
    assert second.rejected == first.rejected
    assert (second.kpis["needs_in_files"], second.kpis["needs_rejected"]) == (9, 1)
