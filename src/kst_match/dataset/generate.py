"""A seeded, reproducible generator of realistic Kingston days (needs and volunteers).

Grounded in the hub's published figures (DESIGN.md): the greatest volume in food and pharmacy
deliveries, a real share of complex needs (wellbeing, befriending, advice), residents at real
postcode centroids, drawn where older residents live (the LSOA's population aged 60 and over,
shared among its postcodes as households are) with more need per older resident where health and
income deprivation are higher (English Indices of Deprivation 2019). Volunteers live at
postcodes drawn by households (a postcode is about 15 of them).
Every share and range below is an assumption; ``data/README.md`` gives the reasoning.

The same arguments give byte-identical files. Volunteers and needs draw from separate random
streams, so the volunteers of a seed do not change with the number of needs; contact details
(names, addresses, phone numbers) from two more, so adding them changed nothing else.

Contact details are fictitious on their face: names and streets are invented, and phone
numbers come only from Ofcom's range for drama, 07700 900000 to 07700 900999, which is never
given to a real line.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from kst_match.dataset.kingston import load_partners, load_postcodes, load_sites
from kst_match.geo.areas import Areas
from kst_match.inputs import write_records
from kst_match.model import (
    DELIVERIES,
    KIND_SKILLS,
    Day,
    Need,
    Partner,
    Priority,
    ServiceKind,
    Site,
    SiteKind,
    Skill,
    Transport,
    Volunteer,
)

DEFAULT_DATE = dt.date(2026, 11, 25)  # a Wednesday: an ordinary weekday for the hub
DEFAULT_NEEDS = 400
DEFAULT_VOLUNTEERS = 150
# Partner capacities in data/partners.csv are sized for the default day; larger or smaller days
# scale them by needs / BASE_NEEDS (rounded up).
BASE_NEEDS = 400

# --- needs -------------------------------------------------------------------------------------
KIND_SHARES: dict[ServiceKind, float] = {
    ServiceKind.food_parcel: 0.35,
    ServiceKind.prescription: 0.20,
    ServiceKind.shopping: 0.10,
    ServiceKind.befriending_call: 0.12,
    ServiceKind.wellbeing_check: 0.08,
    ServiceKind.welfare_visit: 0.05,
    ServiceKind.benefits_advice: 0.05,
    ServiceKind.health_advice: 0.05,
}
PRIORITY_SHARES: dict[Priority, float] = {
    Priority.urgent: 0.10,
    Priority.high: 0.30,
    Priority.normal: 0.60,
}
# Minutes on site or on the phone: (shortest, longest), drawn in steps of 5.
DURATIONS: dict[ServiceKind, tuple[int, int]] = {
    ServiceKind.food_parcel: (5, 10),
    ServiceKind.prescription: (5, 5),
    ServiceKind.shopping: (5, 10),
    ServiceKind.befriending_call: (20, 40),
    ServiceKind.wellbeing_check: (30, 45),
    ServiceKind.welfare_visit: (20, 30),
    ServiceKind.benefits_advice: (30, 45),
    ServiceKind.health_advice: (20, 30),
}
# Load units (parcels, bags) of deliveries: values and their probabilities.
LOADS: dict[ServiceKind, tuple[tuple[int, ...], tuple[float, ...]]] = {
    ServiceKind.food_parcel: ((1, 2, 3), (0.45, 0.35, 0.20)),
    ServiceKind.prescription: ((1,), (1.0,)),
    ServiceKind.shopping: ((1, 2, 3), (0.40, 0.40, 0.20)),
}
# Skills some needs add to those of their kind (model.KIND_SKILLS), with their probability.
EXTRA_SKILLS: dict[ServiceKind, tuple[Skill, float]] = {
    ServiceKind.befriending_call: (Skill.wellbeing_trained, 0.15),
    ServiceKind.welfare_visit: (Skill.wellbeing_trained, 0.20),
}
# Where each delivery is collected.
DELIVERY_SITE_KINDS: dict[ServiceKind, frozenset[SiteKind]] = {
    # The community centres in the bundled data are the food bank's distribution points.
    ServiceKind.food_parcel: frozenset({SiteKind.food_bank, SiteKind.community_centre}),
    ServiceKind.prescription: frozenset({SiteKind.pharmacy}),
    ServiceKind.shopping: frozenset({SiteKind.supermarket}),
}
NEAREST_SITE_SHARE = 0.7  # pharmacies, supermarkets: the nearest, else the second nearest
DAY_START = 8 * 60  # needs' time windows fall within 08:00–20:00
DAY_END = 20 * 60
WINDOW_LENGTHS: tuple[tuple[int, ...], tuple[float, ...]] = ((120, 180, 240), (0.40, 0.35, 0.25))
URGENT_WINDOW = 120
EVENING_START = 16 * 60  # windows starting from 16:00 are half as likely as daytime ones
WINDOW_STEP = 30

SECOND_NEED_SHARE = 0.12  # chance a resident also has the next (different) need of the day
CONTINUITY_SHARE = 0.15  # residents with a previous volunteer
ACCESS_NOTE_SHARE = 0.25
LANGUAGE_SHARE = 0.08  # residents preferring a language other than English
LANGUAGE_REQUIRED_SHARE = 0.7  # of those, for calls and visits: they cannot do without it
LANGUAGE_WEIGHTS: dict[str, float] = {
    "tamil": 0.25,
    "korean": 0.25,
    "polish": 0.07,
    "urdu": 0.07,
    "arabic": 0.06,
    "farsi": 0.05,
    "punjabi": 0.04,
    "gujarati": 0.04,
    "hindi": 0.03,
    "bengali": 0.03,
    "cantonese": 0.03,
    "mandarin": 0.01,
    "romanian": 0.02,
    "portuguese": 0.02,
    "spanish": 0.01,
    "somali": 0.01,
    "turkish": 0.01,
}
# Where speakers of a language more often live: neighbourhood -> weight multiplier.
LANGUAGE_HOMES: dict[str, dict[str, float]] = {
    "korean": {"Maldens and Coombe": 6.0},
    "tamil": {"South of the Borough": 3.0, "Surbiton": 2.0},
}
# Need per older resident rises with the LSOA's health and income deprivation: the factor is
# 1 + DEPRIVATION_GAIN * ((10 - income decile) + (10 - health decile)) / 18, so 1 where both
# are decile 10 (the least deprived tenth of England) and 1 + DEPRIVATION_GAIN where both are
# decile 1. An assumption; see data/README.md.
DEPRIVATION_GAIN = 1.0
HOME_NOTES = (
    "ring twice, side door",
    "ground-floor flat: press buzzer 2",
    "dog in the garden: phone on arrival",
    "hard of hearing: knock loudly and wait",
    "key safe: ask the hub for the code",
    "use the back gate",
    "slow to the door: please wait a few minutes",
    "third floor, no lift",
    "please phone before arriving",
    "please leave nothing on the doorstep",
)
CALL_NOTES = (
    "best after 2pm",
    "hard of hearing: speak slowly and clearly",
    "landline only",
    "may not answer withheld numbers: text first",
    "prefers a short call",
)

# --- volunteers --------------------------------------------------------------------------------
TRANSPORT_CAPACITY: dict[Transport, int] = {Transport.walk: 2, Transport.cycle: 3, Transport.car: 8}
# Travel limits, minutes per day: choices by transport.
MAX_TRAVEL: dict[Transport, tuple[int, ...]] = {
    Transport.walk: (60, 75, 90, 105, 120),
    Transport.cycle: (60, 90, 120, 150),
    Transport.car: (90, 120, 150, 180),
}
MAX_TASKS = (6, 12)  # inclusive
SHIFTS: tuple[tuple[tuple[int, int], ...], tuple[float, ...]] = (
    ((9 * 60, 13 * 60), (13 * 60, 17 * 60), (9 * 60, 17 * 60), (17 * 60, 20 * 60)),
    (0.30, 0.30, 0.25, 0.15),
)
SHARED_WITH_HUB_SHARE = 0.10  # volunteers also registered with the council hub
HUB = "council_hub"
JITTER_M = (4.0, 12.0)  # metres, for a second person at the same postcode

# --- contact details ---------------------------------------------------------------------------
FIRST_NAMES = (
    "Ada", "Amrit", "Bea", "Carys", "Dev", "Edie", "Femi", "Gwen", "Hal", "Ines", "Jun", "Kit",
    "Lena", "Min-jun", "Nell", "Orla", "Priya", "Quin", "Rafe", "Sana", "Tam", "Una", "Vik",
    "Wren", "Yusuf", "Zofia",
)  # fmt: skip
SURNAMES = (
    "Quillfeather", "Brindlecombe", "Thistlewick", "Copperkettle", "Fenwhistle", "Larkmoor",
    "Bramblewick", "Hollowmere", "Pennygrass", "Dunnockby", "Marrowgate", "Sparrowhawe",
    "Tumblethorn", "Wickerby", "Oddlestone", "Nettlecombe",
)  # fmt: skip
STREETS = (
    "Brindlemere", "Quillby", "Thornwhistle", "Fernwick", "Larkspindle", "Hollowmere",
    "Pennygrass", "Dunnockvale", "Marrowgate", "Tumbledown", "Wickerby", "Oddlestone",
)  # fmt: skip
HOUSE_NUMBERS = (1, 150)  # inclusive
# Ofcom sets aside 07700 900000 to 07700 900999 for drama: never a real line.
DRAMA_PHONES = tuple(f"07700 {n}" for n in range(900000, 901000))
VOLUNTEER_PHONES = 200  # the first 200 for volunteers, the other 800 for residents
METRES_PER_DEGREE = 111_195.0  # along a meridian (mean Earth radius)


@dataclass(frozen=True)
class VolunteerProfile:
    """How one partner's volunteers look: a weight for their number and skill probabilities."""

    weight: float  # volunteers per 150 on the default day
    dbs: float
    driver: float
    wellbeing: float = 0.0
    advice: float = 0.0
    cycle: float = 0.35  # of those without a car
    speaks_other: float = 0.08  # probability of one language besides English
    languages: tuple[str, ...] = ()  # their language(s); empty: drawn from the residents' mix
    homes: dict[str, float] = field(default_factory=dict)  # neighbourhood weight multipliers


PROFILES: dict[str, VolunteerProfile] = {
    HUB: VolunteerProfile(30, dbs=0.65, driver=0.4, wellbeing=0.35, advice=0.3, speaks_other=0.25),
    "kingston_foodbank": VolunteerProfile(22, dbs=0.25, driver=0.5),
    "kva": VolunteerProfile(
        18, dbs=0.55, driver=0.35, wellbeing=0.1, advice=0.05, speaks_other=0.12
    ),
    "swl_ccg": VolunteerProfile(10, dbs=1.0, driver=0.4, wellbeing=0.1, advice=0.5),
    "community_brain": VolunteerProfile(
        10, dbs=1.0, driver=0.25, wellbeing=0.9, advice=0.1, speaks_other=0.2
    ),
    "citizens_advice_kingston": VolunteerProfile(
        6, dbs=0.5, driver=0.2, advice=1.0, speaks_other=0.2
    ),
    "healthwatch_kingston": VolunteerProfile(5, dbs=0.6, driver=0.2, advice=1.0, speaks_other=0.2),
    "kingston_council": VolunteerProfile(
        6, dbs=1.0, driver=0.45, wellbeing=0.8, advice=0.2, speaks_other=0.15
    ),
    "achieving_for_children": VolunteerProfile(5, dbs=1.0, driver=0.4, wellbeing=0.2),
    "groundwork": VolunteerProfile(5, dbs=0.3, driver=0.3, cycle=0.5),
    "creative_youth": VolunteerProfile(5, dbs=0.4, driver=0.1, cycle=0.5, speaks_other=0.15),
    "kcah": VolunteerProfile(5, dbs=0.6, driver=0.3, wellbeing=0.2),
    "kingston_environment_forum": VolunteerProfile(4, dbs=0.3, driver=0.1, cycle=0.8),
    "kingston_charitable_foundation": VolunteerProfile(3, dbs=0.5, driver=0.4),
    "kitc": VolunteerProfile(
        6,
        dbs=0.6,
        driver=0.3,
        wellbeing=0.3,
        advice=0.1,
        speaks_other=1.0,
        languages=("tamil",),
        homes={"South of the Borough": 3.0, "Surbiton": 2.0},
    ),
    "kbce": VolunteerProfile(
        6,
        dbs=0.6,
        driver=0.3,
        wellbeing=0.3,
        advice=0.1,
        speaks_other=1.0,
        languages=("korean",),
        homes={"Maldens and Coombe": 6.0},
    ),
    "krec": VolunteerProfile(4, dbs=0.6, driver=0.2, advice=0.8, speaks_other=0.9),
}


# -----------------------------------------------------------------------------------------------
# Small helpers
# -----------------------------------------------------------------------------------------------
def exact_counts(shares: Sequence[float], total: int) -> np.ndarray:
    """Split ``total`` by ``shares`` into whole numbers (largest remainder, ties to the first)."""
    weights = np.asarray(shares, dtype=float)
    raw = weights / weights.sum() * total
    counts = np.floor(raw).astype(int)
    short = total - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def _priorities(rng: np.random.Generator, size: int) -> list[Priority]:
    values = list(PRIORITY_SHARES)
    probs = np.array(list(PRIORITY_SHARES.values()))
    return [values[i] for i in rng.choice(len(values), size=size, p=probs / probs.sum())]


def exact_flags(rng: np.random.Generator, size: int, share: float) -> np.ndarray:
    """A random boolean array with exactly ``round(share * size)`` true values."""
    flags = np.zeros(size, dtype=bool)
    flags[rng.permutation(size)[: round(share * size)]] = True
    return flags


def _scaled_partners(partners: Sequence[Partner], needs: int) -> list[Partner]:
    """Partners with daily capacities scaled to a day of ``needs`` needs (rounded up)."""
    if needs == BASE_NEEDS:
        return list(partners)
    return [
        p.model_copy(
            update={
                "capacity": {k: math.ceil(v * needs / BASE_NEEDS) for k, v in p.capacity.items()}
            }
        )
        for p in partners
    ]


def deprivation_factor(income_decile: np.ndarray, health_decile: np.ndarray) -> np.ndarray:
    """Need per older resident, relative to an LSOA in the least deprived decile of both
    domains (deciles 1 to 10, 1 the most deprived)."""
    score = ((10 - np.asarray(income_decile)) + (10 - np.asarray(health_decile))) / 18
    return 1.0 + DEPRIVATION_GAIN * score


@dataclass
class _Geo:
    """Postcodes with their neighbourhood and LSOA, and the borough test, shared by both
    generators."""

    postcodes: pd.DataFrame
    areas: Areas
    used: dict[tuple[float, float], int] = field(default_factory=dict)  # centroid -> people

    @cached_property
    def neighbourhood(self) -> np.ndarray:
        """The neighbourhood of each postcode (by its own 2022 ward)."""
        lookup = {code: nb for nb, codes in self.areas.neighbourhoods.items() for code in codes}
        return self.postcodes["ward_code_2022"].map(lookup).to_numpy()

    @cached_property
    def demand(self) -> np.ndarray:
        """Each postcode's share of its LSOA's population aged 60 and over (shared among the
        LSOA's postcodes, each about 15 households), times the LSOA's deprivation factor."""
        lsoas = self.areas.lsoa_geometries
        if lsoas.empty:
            raise ValueError("the areas have no LSOAs with deprivation figures")
        row = self.areas.lsoa_index(self.postcodes["lon"], self.postcodes["lat"])
        if (row < 0).any():
            raise ValueError("a postcode lies in no LSOA")
        postcodes = np.bincount(row, minlength=len(lsoas))
        older = lsoas["aged_60_plus_2015"].to_numpy(dtype=float)
        factor = deprivation_factor(lsoas["income_decile"], lsoas["health_decile"])
        return (older * factor / np.maximum(postcodes, 1))[row]

    def weights(
        self,
        homes: dict[str, float],
        wards: frozenset[str] = frozenset(),
        residents: bool = False,
    ) -> np.ndarray:
        """Sampling weight of each postcode: households (volunteers), or the need of older
        residents (``residents``: ``demand``), times locality factors."""
        ward = self.postcodes["ward_code_2022"].to_numpy()
        w = self.demand.copy() if residents else np.ones(ward.size)
        nb = self.neighbourhood
        for name, factor in homes.items():
            w[nb == name] *= factor
        if wards:
            w[~np.isin(ward, sorted(wards))] = 0.0
        return w / w.sum()

    def place(self, rng: np.random.Generator, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lon/lat of people at these postcode rows: the centroid for the first person at a
        postcode, a few metres away (inside the borough) for each later one."""
        lon = self.postcodes["lon"].to_numpy()[rows].copy()
        lat = self.postcodes["lat"].to_numpy()[rows].copy()
        repeat = np.zeros(rows.size, dtype=bool)
        # Keyed by the point, not the postcode: a few postcodes share one centroid.
        for i, key in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
            repeat[i] = key in self.used
            self.used[key] = self.used.get(key, 0) + 1
        todo = np.flatnonzero(repeat)
        base_lon, base_lat = lon[todo].copy(), lat[todo].copy()
        for _ in range(10):  # redraw the few jitters that leave the borough
            if todo.size == 0:
                break
            dist = rng.uniform(*JITTER_M, size=todo.size)
            angle = rng.uniform(0.0, 2 * np.pi, size=todo.size)
            dlat = dist * np.sin(angle) / METRES_PER_DEGREE
            dlon = dist * np.cos(angle) / (METRES_PER_DEGREE * np.cos(np.radians(base_lat)))
            new_lon = np.round(base_lon + dlon, 6)
            new_lat = np.round(base_lat + dlat, 6)
            ok = self.areas.contains(new_lon, new_lat)
            lon[todo[ok]], lat[todo[ok]] = new_lon[ok], new_lat[ok]
            todo, base_lon, base_lat = todo[~ok], base_lon[~ok], base_lat[~ok]
        return lon, lat  # any left in todo stay at their (inside) centroid


# -----------------------------------------------------------------------------------------------
# Volunteers
# -----------------------------------------------------------------------------------------------
def _volunteers(
    rng: np.random.Generator, count: int, partners: Sequence[Partner], geo: _Geo
) -> list[Volunteer]:
    ids = [p.id for p in partners if p.id in PROFILES]
    by_id = {p.id: p for p in partners}
    per_partner = exact_counts([PROFILES[i].weight for i in ids], count)
    partner_of = rng.permutation(np.repeat(np.arange(len(ids)), per_partner))
    languages = list(LANGUAGE_WEIGHTS)
    lang_p = np.array(list(LANGUAGE_WEIGHTS.values()))
    lang_p = lang_p / lang_p.sum()

    rows = np.empty(count, dtype=np.int64)
    for j, pid in enumerate(ids):
        mine = np.flatnonzero(partner_of == j)
        weights = geo.weights(PROFILES[pid].homes, by_id[pid].wards)
        rows[mine] = rng.choice(len(weights), size=mine.size, p=weights)
    lons, lats = geo.place(rng, rows)

    shifts, shift_p = SHIFTS
    postcodes = geo.postcodes["postcode"].to_numpy()
    volunteers = []
    for v in range(count):
        pid = ids[partner_of[v]]
        prof = PROFILES[pid]
        u = rng.random(7)
        skills = {
            s
            for s, p, draw in (
                (Skill.dbs_checked, prof.dbs, u[0]),
                (Skill.driver, prof.driver, u[1]),
                (Skill.wellbeing_trained, prof.wellbeing, u[2]),
                (Skill.advice_trained, prof.advice, u[3]),
            )
            if draw < p
        }
        if Skill.driver in skills:
            transport = Transport.car
        else:
            transport = Transport.cycle if u[4] < prof.cycle else Transport.walk
        spoken: set[str] = set()
        if u[5] < prof.speaks_other:
            if prof.languages:
                spoken.update(prof.languages)
            else:
                spoken.add(languages[rng.choice(len(languages), p=lang_p)])
        shared = {HUB} if pid != HUB and u[6] < SHARED_WITH_HUB_SHARE else set()
        start, end = shifts[rng.choice(len(shifts), p=shift_p)]
        volunteers.append(
            Volunteer(
                id=f"V{v + 1:05d}",
                partner=pid,
                shared_with=frozenset(shared),
                skills=frozenset(skills),
                languages=frozenset(spoken),
                transport=transport,
                capacity=TRANSPORT_CAPACITY[transport],
                shift_start=start,
                shift_end=end,
                max_tasks=int(rng.integers(MAX_TASKS[0], MAX_TASKS[1] + 1)),
                max_travel=int(rng.choice(MAX_TRAVEL[transport])),
                lon=float(lons[v]),
                lat=float(lats[v]),
                postcode=str(postcodes[rows[v]]),
            )
        )
    return volunteers


class _Eligibility:
    """Which volunteers could serve a need, on static grounds only: a partner of theirs offers
    the kind in the need's ward, skills, language (when required), shift overlapping the
    window, and carrying capacity. Used to pick continuity and keep language requirements
    servable; the real matching is triage's and the solver's job."""

    def __init__(
        self, volunteers: Sequence[Volunteer], partners: Sequence[Partner], wards: list[str]
    ):
        kinds = list(ServiceKind)
        self._kind = {k: i for i, k in enumerate(kinds)}
        self._ward = {w: i for i, w in enumerate(wards)}
        p_index = {p.id: i for i, p in enumerate(partners)}
        offers = np.zeros((len(partners), len(kinds), len(wards)), dtype=bool)
        for i, p in enumerate(partners):
            covered = np.array([p.covers(w) for w in wards])
            for k in p.services:
                offers[i, self._kind[k]] = covered
        member = np.zeros((len(volunteers), len(partners)), dtype=bool)
        for v, vol in enumerate(volunteers):
            for pid in vol.partners:
                if pid in p_index:
                    member[v, p_index[pid]] = True
        self.can = (
            member.astype(np.int32) @ offers.reshape(len(partners), -1).astype(np.int32)
        ) > 0
        self.can = self.can.reshape(len(volunteers), len(kinds), len(wards))
        self._skills = {s: np.array([s in v.skills for v in volunteers], dtype=bool) for s in Skill}
        self._langs: dict[str, np.ndarray] = {}
        self._volunteers = volunteers
        self.start = np.array([v.shift_start for v in volunteers], dtype=np.int64)
        self.end = np.array([v.shift_end for v in volunteers], dtype=np.int64)
        self.capacity = np.array([v.capacity for v in volunteers], dtype=np.int64)
        self.xy = np.array([[v.lon, v.lat] for v in volunteers], dtype=float).reshape(-1, 2)

    def speaks(self, language: str) -> np.ndarray:
        if language not in self._langs:
            self._langs[language] = np.array(
                [v.speaks(language) for v in self._volunteers], dtype=bool
            )
        return self._langs[language]

    def mask(
        self,
        kind: ServiceKind,
        ward: str | None,
        skills: frozenset[Skill],
        language: str | None,
        window: tuple[int, int],
        load: int,
    ) -> np.ndarray:
        if ward is None or ward not in self._ward:
            return np.zeros(len(self._volunteers), dtype=bool)
        m = self.can[:, self._kind[kind], self._ward[ward]].copy()
        for s in skills | KIND_SKILLS[kind]:
            m &= self._skills[s]
        if language is not None:
            m &= self.speaks(language)
        m &= (self.start < window[1]) & (window[0] < self.end) & (self.capacity >= load)
        return m


# -----------------------------------------------------------------------------------------------
# Needs
# -----------------------------------------------------------------------------------------------
def _window(rng: np.random.Generator, priority: Priority, earliest: int, latest_start: int):
    lengths, probs = WINDOW_LENGTHS
    length = URGENT_WINDOW if priority is Priority.urgent else int(rng.choice(lengths, p=probs))
    first = max(DAY_START, -(-earliest // WINDOW_STEP) * WINDOW_STEP)
    last = min(DAY_END - length, latest_start)
    if last < first:
        return first, min(DAY_END, first + length)
    starts = np.arange(first, last + 1, WINDOW_STEP)
    weights = np.where(starts < EVENING_START, 1.0, 0.5)
    start = int(rng.choice(starts, p=weights / weights.sum()))
    return start, start + length


def _nearest_sites(sites: Sequence[Site], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Site indices ordered by distance from each point (equirectangular, fine at this scale)."""
    sx = np.array([s.lon for s in sites])
    sy = np.array([s.lat for s in sites])
    k = np.cos(np.radians(51.4))
    d = np.hypot((lon[:, None] - sx[None, :]) * k, lat[:, None] - sy[None, :])
    return np.argsort(d, axis=1, kind="stable")


def generate_day(
    needs: int = DEFAULT_NEEDS,
    volunteers: int = DEFAULT_VOLUNTEERS,
    seed: int = 0,
    date: dt.date = DEFAULT_DATE,
    partners: Sequence[Partner] | None = None,
    sites: Sequence[Site] | None = None,
    areas: Areas | None = None,
) -> Day:
    """A realistic day of ``needs`` needs and ``volunteers`` volunteers, reproducible by ``seed``.

    ``partners`` and ``sites`` default to the bundled Kingston ones; partner capacities are
    scaled by ``needs / 400``.
    """
    if needs < 0 or volunteers < 0:
        raise ValueError("needs and volunteers must not be negative")
    partners = _scaled_partners(load_partners() if partners is None else partners, needs)
    sites = list(load_sites() if sites is None else sites)
    areas = areas or Areas.default()
    geo = _Geo(load_postcodes(), areas)
    vol_rng = np.random.default_rng([seed, 1])
    need_rng = np.random.default_rng([seed, 2])

    vols = _volunteers(vol_rng, volunteers, partners, geo)
    need_list = _needs(need_rng, needs, date, vols, partners, sites, geo)
    # Drawn last, from streams of their own: the rest of the day is as it was without them,
    # and volunteers' details do not change with the number of needs either.
    vols = _volunteer_contacts(np.random.default_rng([seed, 3]), vols)
    need_list = _resident_contacts(np.random.default_rng([seed, 4]), need_list)
    return Day(
        date=date,
        needs=tuple(need_list),
        volunteers=tuple(vols),
        partners=tuple(partners),
        sites=tuple(sites),
    )


def _names(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` invented names."""
    first = rng.integers(len(FIRST_NAMES), size=count)
    last = rng.integers(len(SURNAMES), size=count)
    return [f"{FIRST_NAMES[f]} {SURNAMES[s]}" for f, s in zip(first, last, strict=True)]


def _phones(rng: np.random.Generator, numbers: Sequence[str], count: int) -> list[str]:
    """``count`` of ``numbers`` in random order: all different while there are enough."""
    order = rng.permutation(len(numbers))
    return [numbers[order[i % len(order)]] for i in range(count)]


def _volunteer_contacts(
    rng: np.random.Generator, volunteers: Sequence[Volunteer]
) -> list[Volunteer]:
    """Volunteers with an invented name and a number of the drama range's first part."""
    names = _names(rng, len(volunteers))
    phones = _phones(rng, DRAMA_PHONES[:VOLUNTEER_PHONES], len(volunteers))
    return [
        v.model_copy(update={"name": name, "phone": phone})
        for v, name, phone in zip(volunteers, names, phones, strict=True)
    ]


def _resident_contacts(rng: np.random.Generator, needs: Sequence[Need]) -> list[Need]:
    """Needs with their resident's invented name, street address and phone number (the
    drama range's second part), the same for every need of one resident."""
    residents = list(dict.fromkeys(n.resident for n in needs))
    names = _names(rng, len(residents))
    phones = _phones(rng, DRAMA_PHONES[VOLUNTEER_PHONES:], len(residents))
    street = rng.integers(len(STREETS), size=len(residents))
    house = rng.integers(HOUSE_NUMBERS[0], HOUSE_NUMBERS[1] + 1, size=len(residents))
    contacts = {
        r: {
            "name": names[i],
            "phone": phones[i],
            "address": f"{house[i]} {STREETS[street[i]]} Road",
        }
        for i, r in enumerate(residents)
    }
    return [n.model_copy(update=contacts[n.resident]) for n in needs]


def _needs(
    rng: np.random.Generator,
    count: int,
    date: dt.date,
    volunteers: Sequence[Volunteer],
    partners: Sequence[Partner],
    sites: Sequence[Site],
    geo: _Geo,
) -> list[Need]:
    kinds_order = list(KIND_SHARES)
    kinds = [
        kinds_order[i]
        for i in rng.permutation(
            np.repeat(np.arange(len(kinds_order)), exact_counts(list(KIND_SHARES.values()), count))
        )
    ]
    # Residents: each has one need, or also the next one when it is of another kind.
    resident_of = np.empty(count, dtype=np.int64)
    n_res, i = 0, 0
    while i < count:
        resident_of[i] = n_res
        if i + 1 < count and kinds[i + 1] != kinds[i] and rng.random() < SECOND_NEED_SHARE:
            resident_of[i + 1] = n_res
            i += 1
        n_res += 1
        i += 1

    # Each resident: a language, then a postcode (language-dependent locality), a location.
    languages = list(LANGUAGE_WEIGHTS)
    has_lang = exact_flags(rng, n_res, LANGUAGE_SHARE)
    lang_p = np.array(list(LANGUAGE_WEIGHTS.values()))
    lang_idx = rng.choice(len(languages), size=n_res, p=lang_p / lang_p.sum())
    res_lang = [languages[j] if h else None for h, j in zip(has_lang, lang_idx, strict=True)]
    rows = np.empty(n_res, dtype=np.int64)
    for lang in [None, *languages]:
        mine = np.flatnonzero([x == lang for x in res_lang])
        if mine.size:
            w = geo.weights(LANGUAGE_HOMES.get(lang, {}) if lang else {}, residents=True)
            rows[mine] = rng.choice(len(w), size=mine.size, p=w)
    lon, lat = geo.place(rng, rows)
    res_place = geo.areas.locate_many(lon, lat)
    ward_codes = list(geo.areas.wards)
    res_ward = [p.ward_code if p else None for p in res_place]
    postcode = geo.postcodes["postcode"].to_numpy()[rows]
    wants_continuity = exact_flags(rng, n_res, CONTINUITY_SHARE)

    # Sites: for each resident, the delivery sites by distance, per kind.
    site_order = _nearest_sites(sites, lon, lat)
    site_ok = {
        kind: np.array([s.kind in allowed for s in sites])
        for kind, allowed in DELIVERY_SITE_KINDS.items()
    }
    eligible = _Eligibility(volunteers, partners, ward_codes)
    vol_xy = eligible.xy
    previous: dict[int, str | None] = {}

    priorities = _priorities(rng, count)
    out: list[Need] = []
    for n in range(count):
        r = int(resident_of[n])
        kind = kinds[n]
        priority = priorities[n]
        site: Site | None = None
        load = 0
        earliest, latest = DAY_START, DAY_END
        if kind in DELIVERIES:
            ordered = [j for j in site_order[r] if site_ok[kind][j]]
            pick = 0 if kind is ServiceKind.food_parcel or rng.random() < NEAREST_SITE_SHARE else 1
            site = sites[ordered[min(pick, len(ordered) - 1)]]
            earliest, latest = site.opens, site.closes - 60  # collect, then deliver
            values, probs = LOADS[kind]
            load = int(rng.choice(values, p=probs))
        window = _window(rng, priority, earliest, latest)
        lo, hi = DURATIONS[kind]
        duration = int(rng.choice(np.arange(lo, hi + 1, 5)))
        extra: frozenset[Skill] = frozenset()
        if kind in EXTRA_SKILLS and rng.random() < EXTRA_SKILLS[kind][1]:
            extra = frozenset({EXTRA_SKILLS[kind][0]})
        language = res_lang[r]
        required = bool(
            language is not None
            and kind not in DELIVERIES  # a parcel needs no conversation
            and rng.random() < LANGUAGE_REQUIRED_SHARE
        )
        ward = res_ward[r]
        if required and not eligible.mask(kind, ward, extra, language, window, load).any():
            required = False  # keep the day servable: a preference no one can meet today
        note = ""
        if rng.random() < ACCESS_NOTE_SHARE:
            notes = CALL_NOTES if kind.is_call else HOME_NOTES
            note = notes[int(rng.integers(len(notes)))]
        if wants_continuity[r] and r not in previous:
            m = eligible.mask(kind, ward, extra, language if required else None, window, load)
            cand = np.flatnonzero(m)
            if cand.size:
                d_km = np.hypot(
                    (vol_xy[cand, 0] - lon[r]) * np.cos(np.radians(lat[r])),
                    vol_xy[cand, 1] - lat[r],
                ) * (METRES_PER_DEGREE / 1000)
                w = 1.0 / (d_km + 0.5) ** 2  # people tend to have been helped by neighbours
                previous[r] = volunteers[int(rng.choice(cand, p=w / w.sum()))].id
            else:
                previous[r] = None
        out.append(
            Need(
                id=f"N{n + 1:05d}",
                date=date,
                resident=f"R{r + 1:05d}",
                kind=kind,
                priority=priority,
                window_start=window[0],
                window_end=window[1],
                duration=duration,
                load=load,
                skills=extra,
                language=language,
                language_required=required,
                previous_volunteer=previous.get(r),
                site=site.id if site else None,
                postcode=str(postcode[r]),
                access_notes=note,
                lon=float(lon[r]),
                lat=float(lat[r]),
                **(res_place[r].need_fields() if res_place[r] else {}),
            )
        )
    return out


def write_day(day: Day, out_dir: Path) -> list[Path]:
    """Write a day as needs.csv, volunteers.csv, partners.csv and sites.csv into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [
        (out_dir / "needs.csv", day.needs, Need),
        (out_dir / "volunteers.csv", day.volunteers, Volunteer),
        (out_dir / "partners.csv", day.partners, Partner),
        (out_dir / "sites.csv", day.sites, Site),
    ]
    for path, records, model in files:
        write_records(path, records, model)
    return [path for path, _, _ in files]


def main() -> None:
    """Write the bundled default day (seed 0) into ``data/day``."""
    from kst_match.paths import DEFAULT_DAY_DIR

    for path in write_day(generate_day(), DEFAULT_DAY_DIR):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
