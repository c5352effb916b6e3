"""The vocabulary of kst-match as types: one name per concept, in code, CSV headers and the API.

Times of day are whole minutes after midnight (``int``) inside the program and ``"HH:MM"`` in
files and JSON; a plan's stops also carry their exact times, in seconds after midnight.
Locations are WGS84 longitude and latitude in degrees. Travel times are seconds, distances
metres.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

MINUTES_PER_DAY = 24 * 60

# Bounds on input values: far above any real day, and low enough that no sum of them can
# overflow the solver's 64-bit arithmetic. The README's "Input files" section lists them.
MAX_AMOUNT = 10_000  # load units: a need's load, a volunteer's capacity, a partner's daily amount
MAX_TASKS = 1_000  # tasks one volunteer may take in a day
MAX_ID_LENGTH = 100  # characters in an id or a code
# Contact details: enough for any real name, address line or number, short enough for a sheet.
MAX_NAME_LENGTH = 200
MAX_ADDRESS_LENGTH = 300
MAX_PHONE_LENGTH = 30
PHONE_DIGITS = (6, 20)  # an extension to an international number


# ---------------------------------------------------------------------------------------------
# Clock times
# ---------------------------------------------------------------------------------------------
def parse_clock(value: object) -> int:
    """``"HH:MM"`` (or minutes) to minutes after midnight; ``"24:00"`` is the end of the day.

    ``"HH:MM:SS"``, as spreadsheets export times, is read when the seconds are ``00``: times are
    whole minutes, and rounding a window's edge would move it without saying so.
    """
    if isinstance(value, bool):
        raise ValueError("a time must be HH:MM")
    if isinstance(value, int):
        minutes = value
    elif isinstance(value, float) and value.is_integer():
        minutes = int(value)
    elif isinstance(value, str):
        minutes = _clock_text(value)
    else:
        raise ValueError(f"{value!r} is not a time of day (HH:MM)")
    if not 0 <= minutes <= MINUTES_PER_DAY:
        raise ValueError(f"{value!r} falls outside the day (00:00 to 24:00)")
    return minutes


def _clock_text(value: str) -> int:
    """Minutes after midnight of ``"H:MM"``, ``"HH:MM"`` or ``"HH:MM:00"``."""
    parts = value.strip().split(":")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[2]) == 2:
        if parts[2] != "00":
            raise ValueError(f"{value!r} has seconds: times are whole minutes (HH:MM or HH:MM:00)")
        parts = parts[:2]
    if len(parts) != 2:
        raise ValueError(f"{value!r} is not a time of day (HH:MM)")
    hours, mins = parts
    if not hours.isdigit() or not mins.isdigit() or len(mins) != 2 or int(mins) >= 60:
        raise ValueError(f"{value!r} is not a time of day (HH:MM)")
    return int(hours) * 60 + int(mins)


def format_clock(minutes: int | float) -> str:
    """Minutes after midnight to ``"HH:MM"`` (rounded down to the minute)."""
    m = int(minutes)
    return f"{m // 60:02d}:{m % 60:02d}"


Clock = Annotated[int, BeforeValidator(parse_clock), PlainSerializer(format_clock, return_type=str)]


def _split_list(value: object) -> object:
    """CSV list cells are ``;``-separated; an empty cell is an empty list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


OptionalStr = Annotated[str | None, BeforeValidator(_blank_to_none)]


# ---------------------------------------------------------------------------------------------
# Dates, postcodes and phone numbers as people write them
# ---------------------------------------------------------------------------------------------
_UK_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2,4})")


def parse_date(value: object) -> object:
    """``YYYY-MM-DD`` or a UK date, day first: ``25/11/2026`` (``5/3/2026`` is 5 March).

    Anything else is left to pydantic. A date that only reads month first (``11/25/2026``), or
    a two-digit year, is refused with the reason, never guessed.
    """
    if not isinstance(value, str) or not (m := _UK_DATE.fullmatch(value.strip())):
        return value
    day, month, year = (int(g) for g in m.groups())
    if len(m[3]) != 4:
        raise ValueError(
            f"{value!r}: write the year in full (DD/MM/YYYY, such as 25/11/2026, or YYYY-MM-DD)"
        )
    if month > 12 and day <= 12:
        raise ValueError(
            f"{value!r} reads month first; dates are read day first (DD/MM/YYYY, such as"
            " 25/11/2026) or as YYYY-MM-DD"
        )
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (DD/MM/YYYY or YYYY-MM-DD)") from None


_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}")


def normalise_postcode(value: object) -> object:
    """A UK postcode in capitals with one space before its last three characters
    (``kt12ee``, `` KT1  2EE`` -> ``KT1 2EE``); a blank is None. Not a postcode: an error."""
    if not isinstance(value, str):
        return value
    compact = "".join(value.split()).upper()
    if not compact:
        return None
    code = f"{compact[:-3]} {compact[-3:]}"
    if not _POSTCODE.fullmatch(code):
        raise ValueError(f"{value!r} is not a UK postcode (such as KT1 2EE)")
    return code


_PHONE_CHARACTERS = re.compile(r"\+?[0-9 ()\-]+")


def check_phone(value: str) -> str:
    """A phone number as written: digits, spaces, hyphens, parentheses and a leading ``+``,
    with 6 to 20 digits. Empty is no number."""
    if not value:
        return value
    if not _PHONE_CHARACTERS.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a phone number: use digits, spaces, hyphens, parentheses and a"
            " leading +"
        )
    digits = sum(c.isdigit() for c in value)
    least, most = PHONE_DIGITS
    if not least <= digits <= most:
        raise ValueError(
            f"{value!r} is not a phone number: it has {digits} digits, a number has"
            f" {least} to {most}"
        )
    return value


Postcode = Annotated[str | None, BeforeValidator(normalise_postcode)]
Phone = Annotated[str, Field(max_length=MAX_PHONE_LENGTH)]
PersonName = Annotated[str, Field(max_length=MAX_NAME_LENGTH)]


# ---------------------------------------------------------------------------------------------
# Enumerations
# ---------------------------------------------------------------------------------------------
class ServiceKind(StrEnum):
    """The hub's own list of services."""

    food_parcel = "food_parcel"
    prescription = "prescription"
    shopping = "shopping"
    befriending_call = "befriending_call"
    wellbeing_check = "wellbeing_check"
    welfare_visit = "welfare_visit"
    benefits_advice = "benefits_advice"
    health_advice = "health_advice"

    @property
    def is_delivery(self) -> bool:
        """Collect at a site, then deliver to the resident (same volunteer)."""
        return self in DELIVERIES

    @property
    def is_visit(self) -> bool:
        """A single stop at the resident's home."""
        return self in VISITS

    @property
    def is_call(self) -> bool:
        """By phone: no travel."""
        return self in CALLS


DELIVERIES = frozenset({ServiceKind.food_parcel, ServiceKind.prescription, ServiceKind.shopping})
VISITS = frozenset({ServiceKind.wellbeing_check, ServiceKind.welfare_visit})
CALLS = frozenset(
    {ServiceKind.befriending_call, ServiceKind.benefits_advice, ServiceKind.health_advice}
)


class Skill(StrEnum):
    dbs_checked = "dbs_checked"
    driver = "driver"
    wellbeing_trained = "wellbeing_trained"
    advice_trained = "advice_trained"


# The skills a kind of service always needs, whatever the need itself adds. Prescriptions and
# home visits to vulnerable adults need a DBS check; wellbeing and advice need training.
KIND_SKILLS: dict[ServiceKind, frozenset[Skill]] = {
    ServiceKind.food_parcel: frozenset(),
    ServiceKind.shopping: frozenset(),
    ServiceKind.prescription: frozenset({Skill.dbs_checked}),
    ServiceKind.befriending_call: frozenset({Skill.dbs_checked}),
    ServiceKind.wellbeing_check: frozenset({Skill.dbs_checked, Skill.wellbeing_trained}),
    ServiceKind.welfare_visit: frozenset({Skill.dbs_checked}),
    ServiceKind.benefits_advice: frozenset({Skill.advice_trained}),
    ServiceKind.health_advice: frozenset({Skill.advice_trained}),
}

# Languages the Task Force's partners serve (lower-case English names). English is assumed of
# every volunteer and need not be listed.
LANGUAGES = frozenset(
    {
        "english",
        "tamil",
        "korean",
        "urdu",
        "punjabi",
        "hindi",
        "gujarati",
        "bengali",
        "arabic",
        "farsi",
        "polish",
        "romanian",
        "portuguese",
        "spanish",
        "somali",
        "cantonese",
        "mandarin",
        "turkish",
        "italian",
        "french",
    }
)


class Priority(StrEnum):
    urgent = "urgent"
    high = "high"
    normal = "normal"


PRIORITY_ORDER: dict[Priority, int] = {Priority.urgent: 0, Priority.high: 1, Priority.normal: 2}


class Transport(StrEnum):
    """How a volunteer travels; also the travel mode of a matrix."""

    walk = "walk"
    cycle = "cycle"
    car = "car"


class SiteKind(StrEnum):
    food_bank = "food_bank"
    pharmacy = "pharmacy"
    supermarket = "supermarket"
    community_centre = "community_centre"


class StopKind(StrEnum):
    start = "start"
    collect = "collect"
    deliver = "deliver"
    visit = "visit"
    call = "call"
    end = "end"


class Reason(StrEnum):
    """Why a need is left unserved; every reason has a sentence (``REASON_TEXT``)."""

    no_partner = "no_partner"
    partner_capacity = "partner_capacity"
    no_skill = "no_skill"
    no_language = "no_language"
    site_closed = "site_closed"
    no_time = "no_time"
    too_far = "too_far"
    no_capacity = "no_capacity"
    crowded_out = "crowded_out"
    not_planned_in_time = "not_planned_in_time"
    volunteer_unavailable = "volunteer_unavailable"


REASON_TEXT: dict[Reason, str] = {
    Reason.no_partner: "No partner offers this service in the resident's ward.",
    Reason.partner_capacity: "Every partner that could take it has used up today's capacity.",
    Reason.no_skill: "No volunteer available today has the skills it needs.",
    Reason.no_language: "No volunteer available today speaks the language it requires.",
    Reason.site_closed: "The collection site is not open in time for the resident's window.",
    Reason.no_time: "No suitable volunteer is free within the resident's time window.",
    Reason.too_far: "It is beyond every suitable volunteer's travel limit.",
    Reason.no_capacity: "The load is more than any suitable volunteer can carry.",
    Reason.crowded_out: (
        "A volunteer could serve it alone, but it fits into no suitable volunteer's day as"
        " planned, and no partner with room could take it instead."
    ),
    Reason.not_planned_in_time: (
        "A volunteer could serve it alone, but the search stopped on its time limit before"
        " making room for it; a longer time limit may serve it."
    ),
    Reason.volunteer_unavailable: "Its volunteer dropped out and no one else could take it.",
}


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------
class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


Id = Annotated[str, Field(max_length=MAX_ID_LENGTH)]


class Located(_Record):
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)


def _nonempty_id(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


class Site(Located):
    """A place goods are collected."""

    id: Id
    name: str
    kind: SiteKind
    postcode: Postcode = None
    opens: Clock = 0
    closes: Clock = MINUTES_PER_DAY
    address_assumed: bool = False

    _id = field_validator("id")(_nonempty_id)

    @model_validator(mode="after")
    def _hours(self) -> Site:
        if self.closes <= self.opens:
            raise ValueError("closes: the site closes before it opens")
        return self


class Partner(_Record):
    """A community organisation or council team."""

    id: Id
    name: str
    services: Annotated[frozenset[ServiceKind], BeforeValidator(_split_list)]
    # 2022 ward codes covered; empty means the whole borough.
    wards: Annotated[frozenset[str], BeforeValidator(_split_list)] = frozenset()
    # Daily capacity per service ("food_parcel:40;prescription:20" in CSV). A service offered
    # but absent here has no limit.
    capacity: dict[ServiceKind, Annotated[int, Field(ge=0, le=MAX_AMOUNT)]] = Field(
        default_factory=dict
    )
    sites: Annotated[frozenset[str], BeforeValidator(_split_list)] = frozenset()

    _id = field_validator("id")(_nonempty_id)

    @field_validator("capacity", mode="before")
    @classmethod
    def _parse_capacity(cls, value: object) -> object:
        if isinstance(value, str):
            parsed: dict[str, object] = {}
            for part in _split_list(value):  # type: ignore[union-attr]
                kind, sep, amount = part.partition(":")
                if not sep:
                    raise ValueError(f"{part!r} is not service:amount")
                try:
                    parsed[kind.strip()] = int(amount)
                except ValueError:
                    raise ValueError(f"{amount.strip()!r} is not a whole number") from None
            return parsed
        return value

    def covers(self, ward: str | None) -> bool:
        return not self.wards or (ward is not None and ward in self.wards)


class Volunteer(Located):
    """A volunteer (street champions included) available today. ``lon``/``lat`` is home."""

    id: Id
    name: PersonName = ""
    partner: str
    shared_with: Annotated[frozenset[str], BeforeValidator(_split_list)] = frozenset()
    skills: Annotated[frozenset[Skill], BeforeValidator(_split_list)] = frozenset()
    languages: Annotated[frozenset[str], BeforeValidator(_split_list)] = frozenset()
    transport: Transport = Transport.walk
    capacity: int = Field(default=2, ge=0, le=MAX_AMOUNT, description="load units carried at once")
    shift_start: Clock
    shift_end: Clock
    max_tasks: int = Field(default=8, ge=0, le=MAX_TASKS)
    max_travel: int = Field(
        default=120, ge=0, le=MINUTES_PER_DAY, description="minutes of travel per day"
    )
    # Home postcode: the home is its centroid when lon/lat are not given.
    postcode: Postcode = None
    phone: Phone = ""

    _id = field_validator("id")(_nonempty_id)
    _phone = field_validator("phone")(check_phone)

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: frozenset[str]) -> frozenset[str]:
        lowered = frozenset(v.lower() for v in value)
        unknown = sorted(lowered - LANGUAGES)
        if unknown:
            raise ValueError(f"unknown language {', '.join(unknown)}")
        return lowered

    @model_validator(mode="after")
    def _shift(self) -> Volunteer:
        if self.shift_end <= self.shift_start:
            raise ValueError("shift_end: the shift ends before it starts")
        return self

    @property
    def partners(self) -> frozenset[str]:
        return self.shared_with | {self.partner}

    def speaks(self, language: str | None) -> bool:
        return language is None or language == "english" or language in self.languages


class Need(Located):
    """One resident's request for one service on one day."""

    id: Id
    date: Annotated[dt.date, BeforeValidator(parse_date)]
    resident: str
    kind: ServiceKind
    priority: Priority = Priority.normal
    window_start: Clock
    window_end: Clock
    duration: int = Field(
        default=10, ge=0, le=MINUTES_PER_DAY, description="minutes on site or on the phone"
    )
    load: int = Field(default=0, ge=0, le=MAX_AMOUNT, description="parcels or bags carried")
    skills: Annotated[frozenset[Skill], BeforeValidator(_split_list)] = frozenset()
    language: OptionalStr = None
    language_required: bool = False
    previous_volunteer: OptionalStr = None
    site: OptionalStr = None
    # The resident's postcode: the need is at its centroid when lon/lat are not given.
    postcode: Postcode = None
    # The resident's contact details, for the run sheet of the volunteer who serves them.
    name: PersonName = ""
    address: Annotated[str, Field(max_length=MAX_ADDRESS_LENGTH)] = ""
    phone: Phone = ""
    access_notes: str = ""
    # Filled by geography when the need is read; not input columns. The LSOA (2011) and its
    # Index of Multiple Deprivation 2019 decile (1: the most deprived tenth of England).
    ward: OptionalStr = None
    lsoa: OptionalStr = None
    imd_decile: int | None = Field(default=None, ge=1, le=10)

    _id = field_validator("id", "resident")(_nonempty_id)
    _phone = field_validator("phone")(check_phone)

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        if value is None:
            return None
        lowered = value.lower()
        if lowered not in LANGUAGES:
            raise ValueError(f"unknown language {value}")
        return lowered

    @model_validator(mode="after")
    def _consistent(self) -> Need:
        if self.window_end <= self.window_start:
            raise ValueError("window_end: the time window ends before it starts")
        if self.kind.is_delivery and self.site is None:
            raise ValueError(f"site: a {self.kind.value} delivery needs a collection site")
        if not self.kind.is_delivery and self.site is not None:
            raise ValueError(f"site: a {self.kind.value} has nothing to collect")
        return self

    @property
    def required_skills(self) -> frozenset[Skill]:
        return self.skills | KIND_SKILLS[self.kind]


class Day(BaseModel):
    """Everything one day's plan is made from."""

    model_config = ConfigDict(frozen=True)

    date: dt.date
    needs: tuple[Need, ...]
    volunteers: tuple[Volunteer, ...]
    partners: tuple[Partner, ...]
    sites: tuple[Site, ...]
    # Planning option: when not every need can be served, a need in a more deprived LSOA is
    # worth more (``kst_match.solve.weights``); never more than a need of a higher priority.
    equity: bool = False

    def need(self, need_id: str) -> Need:
        return self._index("needs")[need_id]

    def volunteer(self, volunteer_id: str) -> Volunteer:
        return self._index("volunteers")[volunteer_id]

    def partner(self, partner_id: str) -> Partner:
        return self._index("partners")[partner_id]

    def site(self, site_id: str) -> Site:
        return self._index("sites")[site_id]

    def _index(self, field: str) -> dict[str, Any]:
        # Cached by the identity of the tuple, so a ``model_copy(update=...)`` never sees a
        # stale index.
        items = getattr(self, field)
        cache = self.__dict__.setdefault("_indices", {})
        if field not in cache or cache[field][0] is not items:
            cache[field] = (items, {item.id: item for item in items})
        return cache[field][1]


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------
class Stop(BaseModel):
    """One stop of a volunteer's day, in order.

    ``arrival``, ``start`` and ``departure`` are whole minutes after midnight: the exact times
    ``arrival_s``, ``start_s`` and ``departure_s`` (seconds after midnight) rounded down. Plans
    written before exact times were recorded have ``None`` there.
    """

    kind: StopKind
    need: str | None = None
    site: str | None = None
    lon: float
    lat: float
    arrival: Clock
    start: Clock = Field(description="service starts (after any wait)")
    departure: Clock
    arrival_s: float | None = Field(default=None, description="exact arrival, seconds")
    start_s: float | None = Field(default=None, description="exact service start, seconds")
    departure_s: float | None = Field(default=None, description="exact departure, seconds")
    load: int = Field(default=0, description="load carried on leaving the stop")
    travel_s: float = Field(default=0, description="travel from the previous stop, seconds")
    distance_m: float = Field(default=0, description="distance from the previous stop, metres")


class Route(BaseModel):
    volunteer: str
    transport: Transport
    stops: list[Stop]
    geometry: list[list[tuple[float, float]]] = Field(
        default_factory=list, description="one lon/lat line per leg, along streets when known"
    )

    @property
    def travel_s(self) -> float:
        return sum(s.travel_s for s in self.stops)

    @property
    def distance_m(self) -> float:
        return sum(s.distance_m for s in self.stops)

    @property
    def tasks(self) -> int:
        return sum(
            1 for s in self.stops if s.kind in (StopKind.deliver, StopKind.visit, StopKind.call)
        )


class Assignment(BaseModel):
    need: str
    partner: str
    volunteer: str
    start: Clock = Field(description="service starts at the resident (or the call begins)")
    continuity: bool = Field(
        default=False, description="served by the resident's previous volunteer"
    )
    note: str = Field(default="", description="what happened earlier today (re-plans)")


class Unserved(BaseModel):
    need: str
    reason: Reason
    detail: str


class Event(BaseModel):
    """Something reported or decided since the previous version of a plan (re-plans)."""

    kind: str = Field(description="done, collected, failed, returned or dropped")
    need: str | None = None
    volunteer: str | None = None
    note: str = Field(default="", description="the reason reported, or what happens next")


class InputFile(BaseModel):
    """One file a plan was made from."""

    role: str = Field(description="needs, volunteers, partners, sites, new_needs, plan, events")
    path: str = Field(description="absolute path when the plan was made")
    sha256: str = Field(description="SHA-256 of the file's bytes, hex")


class Provenance(BaseModel):
    """What a plan was made from: the day's folder and every file read."""

    folder: str = Field(description="the day's folder, absolute path")
    files: list[InputFile] = Field(default_factory=list)


class Rejected(BaseModel):
    """An input row left out of the day, and why: a need rejected here was never planned.

    ``row`` counts as ``kst_match.inputs.Issue`` does (CSV header = row 1, GeoJSON features
    from 1, 0 for the file as a whole); ``id`` is the row's id when one could be read.
    """

    file: str
    row: int
    field: str
    reason: str
    id: str | None = None


class Plan(BaseModel):
    """One day's result: who does what, in which order and when, and what could not be done."""

    date: dt.date
    version: int = 1
    travel_model: str
    assignments: list[Assignment]
    routes: list[Route]
    unserved: list[Unserved]
    onboard_limit_min: int = Field(
        default=120, ge=0, description="longest time goods may spend on board, minutes"
    )
    # Plans that do not record them were made with 180 s per visit and nothing per parcel.
    handling_s: float = Field(
        default=180, ge=0, le=3600, description="handling of one visit to a site, seconds"
    )
    per_item_s: float = Field(
        default=0, ge=0, le=3600, description="time per parcel collected on a visit, seconds"
    )
    kpis: dict[str, object] = Field(default_factory=dict)
    # Wall-clock figures of the run that made the plan. Kept out of plan.json, so that the same
    # input and a deterministic stopping rule give the same file byte for byte; kpis.json and
    # kpis.md show them.
    timings: dict[str, float] = Field(default_factory=dict, exclude=True)
    events: list[Event] = Field(default_factory=list)
    inputs: Provenance | None = None
    rejected: list[Rejected] = Field(
        default_factory=list, description="input rows left out of the day, with the reason"
    )
    sha256: str | None = Field(
        default=None, description="SHA-256 of the plan's canonical JSON without this field"
    )


# ---------------------------------------------------------------------------------------------
# The hub
# ---------------------------------------------------------------------------------------------
NOBODY_HOME = (
    "Ring the doorbell and phone the resident; wait 5 minutes; if there is no answer, report the"
    " stop as failed (not at home) and phone the hub."
)


class Hub(BaseModel):
    """The hub running the day, as printed on the run sheets: who to phone, and what to do when
    nobody is home."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    name: str = "the hub"
    phone: str = ""
    nobody_home: str = NOBODY_HOME
