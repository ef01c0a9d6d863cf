"""Coordinate reference systems: EPSG codes, VN-2000 provincial zones, the metric CRS of a run.

Vietnamese survey data come in the national VN-2000 system, projected on a 3-degree Transverse
Mercator zone whose central meridian is set per province. Users name such a CRS
``VN2000:<province>`` (or ``VN2000:<meridian>``); :func:`parse_crs` turns that, EPSG codes, PROJ
strings and WKT into a :class:`pyproj.CRS`. Every VN-2000 CRS made here carries the official
datum shift to WGS 84, so that pyproj moves the points by the ~200 m between the two datums when
it reprojects them.

Metric work happens in one projected CRS per run: :func:`metric_crs` picks the WGS 84 / UTM zone of
an extent, and :func:`require_projected` refuses to measure distances in degrees. The
``looks_*`` helpers let input validation tell swapped or misread coordinate columns apart.

Province names to VN-2000 central meridians
-------------------------------------------
Two tables: the 63 provinces before 1 July 2025 (Thông tư 973/2001/TT-TCĐC) and the 34 provinces
from that date (Thông tư 24/2025/TT-BNNMT). A name is resolved as follows.

- In the post-2025 table only, or in both with the same meridian: the post-2025 entry (the table in
  force). The CRS is the same either way; :attr:`Vn2000Zone.table` says where it came from.
- In the pre-2025 table only (a province merged away in 2025, e.g. Hà Giang): the pre-2025 entry,
  since data under that name were made for the old province's zone.
- In both with different meridians (Lai Châu, Bắc Ninh, Gia Lai: the merged province got another
  meridian): refused. Write ``VN2000:Lai Châu@2025`` or ``VN2000:Lai Châu@pre2025``.
- Quảng Trị and Tây Ninh after 2025: the sources disagree (106°00' or 106°15', 105°30' or
  105°45'), so the bare name is refused rather than guessed, and so is ``@2025``. Their pre-2025
  entries are settled and stay reachable with ``@pre2025``; otherwise give the meridian
  (``VN2000:106.25``) or a PROJ string.

Names match without regard to accents, case and separators (``Đắk Lắk``, ``dak-lak``,
``DAKLAK``), after dropping a leading ``Tỉnh`` / ``Thành phố`` / ``TP`` and a trailing
``province`` / ``city``; a few other spellings are known too (``HCM``, ``Sài Gòn``, ``BRVT``,
``Thừa Thiên Huế`` for ``Huế``).
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pyproj
import pyproj.exceptions

from hatangso.geo.errors import CRSError
from hatangso.geo.text import fold_key, nfc

__all__ = [
    "WGS84",
    "Vn2000Table",
    "Vn2000Zone",
    "looks_like_lonlat",
    "looks_like_northing_easting",
    "looks_like_vn2000_xy",
    "looks_swapped",
    "metric_crs",
    "parse_crs",
    "require_projected",
    "vn2000_crs",
    "vn2000_zone",
]

log = logging.getLogger(__name__)

WGS84: Final[pyproj.CRS] = pyproj.CRS.from_epsg(4326)
"""WGS 84 longitude/latitude (EPSG:4326): the CRS of inputs without one, of outputs and maps."""

Vn2000Table = Literal["pre-2025", "post-2025"]

_PRE: Final = "pre-2025"
_POST: Final = "post-2025"

# Central meridians as (degrees, minutes), from Thông tư 973/2001/TT-TCĐC (63 provinces).
_PRE_2025_TABLE: Final[dict[tuple[int, int], tuple[str, ...]]] = {
    (103, 0): ("Lai Châu", "Điện Biên"),
    (104, 0): ("Sơn La",),
    (104, 30): ("Kiên Giang", "Cà Mau"),
    (104, 45): ("Lào Cai", "Yên Bái", "Phú Thọ", "Nghệ An", "An Giang"),
    (105, 0): (
        "Hà Nội", "Vĩnh Phúc", "Hà Nam", "Ninh Bình", "Thanh Hóa", "Đồng Tháp", "Cần Thơ",
        "Hậu Giang", "Bạc Liêu",
    ),
    (105, 30): (
        "Hà Giang", "Bắc Ninh", "Hải Dương", "Hưng Yên", "Nam Định", "Thái Bình", "Hà Tĩnh",
        "Tây Ninh", "Vĩnh Long", "Trà Vinh", "Sóc Trăng",
    ),
    (105, 45): (
        "Cao Bằng", "Hải Phòng", "TP. Hồ Chí Minh", "Bình Dương", "Long An", "Tiền Giang",
        "Bến Tre",
    ),
    (106, 0): ("Tuyên Quang", "Hòa Bình", "Quảng Bình"),
    (106, 15): ("Quảng Trị", "Bình Phước"),
    (106, 30): ("Bắc Kạn", "Thái Nguyên"),
    (107, 0): ("Bắc Giang", "Thừa Thiên Huế"),
    (107, 15): ("Lạng Sơn",),
    (107, 30): ("Kon Tum",),
    (107, 45): ("Quảng Ninh", "Đà Nẵng", "Quảng Nam", "Lâm Đồng", "Đồng Nai", "Bà Rịa – Vũng Tàu"),
    (108, 0): ("Quảng Ngãi",),
    (108, 15): ("Bình Định", "Khánh Hòa", "Ninh Thuận"),
    (108, 30): ("Gia Lai", "Đắk Lắk", "Đắk Nông", "Phú Yên", "Bình Thuận"),
}  # fmt: skip

# The 34 provinces from 1 July 2025 (Thông tư 24/2025/TT-BNNMT, as read from two secondary sources).
_POST_2025_TABLE: Final[dict[tuple[int, int], tuple[str, ...]]] = {
    (103, 0): ("Điện Biên",),
    (104, 0): ("Sơn La",),
    (104, 30): ("Cà Mau",),
    (104, 45): ("Lai Châu", "Lào Cai", "Phú Thọ", "Nghệ An", "An Giang"),
    (105, 0): ("Hà Nội", "Ninh Bình", "Thanh Hóa", "Đồng Tháp", "Cần Thơ"),
    (105, 30): ("Hưng Yên", "Hà Tĩnh", "Vĩnh Long"),
    (105, 45): ("Cao Bằng", "Hải Phòng", "TP. Hồ Chí Minh"),
    (106, 0): ("Tuyên Quang",),
    (106, 30): ("Thái Nguyên",),
    (107, 0): ("Bắc Ninh", "Huế"),
    (107, 15): ("Lạng Sơn",),
    (107, 45): ("Quảng Ninh", "Đà Nẵng", "Lâm Đồng", "Đồng Nai"),
    (108, 0): ("Quảng Ngãi",),
    (108, 15): ("Gia Lai", "Khánh Hòa"),
    (108, 30): ("Đắk Lắk",),
}

# Post-2025 provinces whose meridian the two sources give differently: the candidates.
_POST_2025_UNSETTLED: Final[dict[str, tuple[tuple[int, int], ...]]] = {
    "Quảng Trị": ((106, 0), (106, 15)),
    "Tây Ninh": ((105, 30), (105, 45)),
}

# Other ways of writing a province: each group names one province; the first member is a name
# of the tables. Huế (post-2025) is the former Thừa Thiên Huế province under a new status.
_ALIAS_GROUPS: Final[tuple[tuple[str, ...], ...]] = (
    ("TP. Hồ Chí Minh", "Hồ Chí Minh", "HCM", "HCMC", "TPHCM", "Sài Gòn", "Saigon"),
    ("Huế", "Thừa Thiên Huế", "Thừa Thiên - Huế", "TT Huế", "TT-Huế"),
    ("Bà Rịa – Vũng Tàu", "BRVT", "BR-VT"),
    ("Đắk Lắk", "Đắc Lắc", "Darlac"),
    ("Đắk Nông", "Đắc Nông"),
    ("Bắc Kạn", "Bắc Cạn"),
)

_DASHES = re.compile("[\u2010-\u2015\u2212'\u2019\u02bc]")
_PREFIXES: Final = ("thanhpho", "tinh", "tp")
_SUFFIXES: Final = ("province", "city")

# Meridians accepted for VN2000:<meridian> and vn2000_crs: whole multiples of 15' in this range.
_MERIDIAN_MIN_DEG: Final = 102.0
_MERIDIAN_MAX_DEG: Final = 111.0
_MERIDIAN_STEP_MIN: Final = 15

# Quyết định 05/2007/QĐ-BTNMT, VN-2000 -> WGS 84, as EPSG:6960 "VN-2000 to WGS 84 (2)" records
# it in the coordinate-frame convention (EPSG method 9607): translations in metres, rotations in
# arc-seconds, scale difference in parts per million (k = 1.000000252906278).
_QD_05_2007_SHIFT: Final[tuple[float, float, float, float, float, float, float]] = (
    -191.90441429, -39.30318279, -111.45032835, -0.00928836, 0.01975479, -0.00427372, 0.252906278,
)  # fmt: skip

_VN2000_PREFIX = re.compile(
    r"^\s*VN[\s_-]?2000\s*(?::\s*(?P<rest>.*))?$", re.IGNORECASE | re.DOTALL
)
_EPSG_CODE = re.compile(r"^(?:EPSG\s*[:\s]\s*)?(?P<code>\d+)$", re.IGNORECASE)
_DECIMAL_MERIDIAN = re.compile(r"^(?P<deg>\d{2,3}(?:[.,]\d+)?)\s*°?$")
_DM_MERIDIAN = re.compile(
    r"^(?P<deg>\d{2,3})\s*(?:°|º|d|deg)\s*(?:(?P<min>\d{1,2})\s*(?:'|′|’|m|min)?)?$",
    re.IGNORECASE,
)
_TABLE_QUALIFIERS: Final[dict[str, Vn2000Table]] = {
    "2025": "post-2025",
    "post2025": "post-2025",
    "pre2025": "pre-2025",
    "2001": "pre-2025",
}

# Vietnam in WGS 84 lon/lat (west, south, east, north): the mainland with its near-shore islands
# (Phú Quốc, Côn Đảo, Bạch Long Vĩ, Lý Sơn, Phú Quý), Hoàng Sa (Paracels) and Trường Sa
# (Spratlys), where villages and BTS sites exist too.
_VIETNAM_LONLAT_BOXES: Final[tuple[tuple[float, float, float, float], ...]] = (
    (102.1, 8.2, 109.5, 23.4),
    (111.0, 15.6, 113.0, 17.2),
    (111.4, 6.0, 117.9, 12.0),
)
# Plausible VN-2000 TM-3 eastings and northings of the mainland, in metres: eastings within
# 400 km of the central meridian's false easting; northings from 8.2° N (about 906 km) to
# 23.4° N (about 2,590 km), with margins.
_EASTING_RANGE_M: Final = (100_000.0, 900_000.0)
_NORTHING_RANGE_M: Final = (850_000.0, 2_650_000.0)

# metric_crs logs a warning when the UTM scale error inside the extent exceeds this.
_SCALE_ERROR_WARN: Final = 0.005


@dataclass(frozen=True)
class Vn2000Zone:
    """The VN-2000 3-degree TM zone of a province.

    Attributes
    ----------
    province
        The province's name as the table writes it (NFC).
    meridian_deg
        Central meridian, degrees east of Greenwich.
    table
        Which table the name was taken from: ``"pre-2025"`` (63 provinces, Thông tư
        973/2001/TT-TCĐC) or ``"post-2025"`` (34 provinces, Thông tư 24/2025/TT-BNNMT).
    """

    province: str
    meridian_deg: float
    table: Vn2000Table

    def to_crs(self) -> pyproj.CRS:
        """Return the zone's CRS, as :func:`vn2000_crs`, named after the province and table.

        Examples
        --------
        >>> vn2000_zone("Hà Nội").to_crs().name
        "VN-2000 / TM-3 105°00' (Hà Nội, post-2025 table)"
        """
        meridian_deg = _check_meridian(self.meridian_deg, given=str(self.meridian_deg))
        name = f"VN-2000 / TM-3 {_dm(meridian_deg)} ({self.province}, {self.table} table)"
        return pyproj.CRS.from_json(_vn2000_projjson(meridian_deg, name))


@dataclass(frozen=True)
class _Entry:
    """One row of a meridian table; `meridian` is None for an unsettled post-2025 province."""

    table: Vn2000Table
    province: str
    meridian: tuple[int, int] | None


def _name_key(text: str) -> str:
    """Fold a province name for matching: no accents, case, separators, prefix or suffix."""
    key: str = fold_key(_DASHES.sub("-", nfc(text)))
    for prefix in _PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            key = key[len(prefix) :]
            break
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    return key


def _build_index() -> tuple[dict[str, tuple[_Entry, ...]], dict[str, str]]:
    """Map every name key to its table entries, and every key to a name to show the user."""
    by_key: dict[str, list[_Entry]] = {}
    shown: dict[str, str] = {}
    rows: list[_Entry] = [
        _Entry(_PRE, name, dm) for dm, names in _PRE_2025_TABLE.items() for name in names
    ]
    rows += [_Entry(_POST, name, dm) for dm, names in _POST_2025_TABLE.items() for name in names]
    rows += [_Entry(_POST, name, None) for name in _POST_2025_UNSETTLED]
    for entry in rows:
        key = _name_key(entry.province)
        by_key.setdefault(key, []).append(entry)
        shown[key] = entry.province
    for group in _ALIAS_GROUPS:
        keys = [_name_key(name) for name in group]
        merged = [entry for key in dict.fromkeys(keys) for entry in by_key.get(key, [])]
        for key, name in zip(keys, group, strict=True):
            by_key[key] = merged
            shown.setdefault(key, name)
    return {key: tuple(entries) for key, entries in by_key.items()}, shown


_INDEX, _SHOWN = _build_index()


def _dm(meridian_deg: float) -> str:
    """Write a meridian as degrees and minutes, e.g. ``105°45'``."""
    minutes = round(meridian_deg * 60)
    return f"{minutes // 60}°{minutes % 60:02d}'"


def _deg(dm: tuple[int, int]) -> float:
    return dm[0] + dm[1] / 60


def _split_qualifier(name: str) -> tuple[str, Vn2000Table | None]:
    """Split ``Lai Châu@2025`` into the name and the table it asks for."""
    if "@" not in name:
        return name, None
    base, _, qualifier = name.rpartition("@")
    table = _TABLE_QUALIFIERS.get(fold_key(qualifier))
    if table is None:
        raise CRSError(
            f"'{name}': unknown table '@{qualifier}'. Fix: write '{base.strip()}@2025' for the "
            f"34-province table in force from 1 July 2025, or '{base.strip()}@pre2025' for the "
            "63-province table before it"
        )
    return base, table


def _unknown_province(name: str) -> CRSError:
    key = _name_key(name)
    close = difflib.get_close_matches(key, list(_INDEX), n=5, cutoff=0.6)
    names = list(dict.fromkeys(_SHOWN[k] for k in close))
    hint = f"closest known names: {', '.join(names)}" if names else "no known name is close"
    return CRSError(
        f"'{name}' is not a province of the VN-2000 meridian tables ({hint}). Fix: write the "
        "province's name, e.g. VN2000:Hà Nội, or the central meridian, e.g. VN2000:105.75"
    )


def _unsettled(entry: _Entry, pre: _Entry | None) -> CRSError:
    candidates = _POST_2025_UNSETTLED[entry.province]
    options = " or ".join(_dm(_deg(dm)) for dm in candidates)
    decimals = " / ".join(f"VN2000:{_deg(dm):g}" for dm in candidates)
    old = (
        f", or VN2000:{entry.province}@pre2025 if the data use the pre-2025 province's zone "
        f"({_dm(_deg(pre.meridian))})"
        if pre is not None and pre.meridian is not None
        else ""
    )
    return CRSError(
        f"the central meridian of {entry.province} after 1 July 2025 is not settled (the sources "
        f"give {options}); hatangso does not guess it. Fix: give the meridian explicitly "
        f"({decimals}, or a PROJ string such as '+proj=tmerc +lat_0=0 "
        f"+lon_0={_deg(candidates[0]):g} +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 "
        f"+towgs84=...'){old}"
    )


def vn2000_zone(name: str, *, table: Vn2000Table | None = None) -> Vn2000Zone:
    """Return the VN-2000 3-degree zone of the province called `name`.

    Parameters
    ----------
    name
        A province name, matched without regard to accents, case and separators, optionally
        followed by ``@2025`` (the table in force from 1 July 2025) or ``@pre2025`` (the table
        before it), e.g. ``"Lai Châu@pre2025"``.
    table
        The table to read, like the ``@`` suffix; None lets the name decide (module notes).

    Returns
    -------
    Vn2000Zone
        The province's canonical name, central meridian and the table it was taken from.

    Raises
    ------
    CRSError
        Unknown name (with the closest known names), a name whose tables disagree and no table
        chosen, a post-2025 meridian that is not settled, or a name absent from the chosen table.

    Examples
    --------
    >>> vn2000_zone("tp ho chi minh")
    Vn2000Zone(province='TP. Hồ Chí Minh', meridian_deg=105.75, table='post-2025')
    >>> vn2000_zone("Lai Châu@pre2025").meridian_deg
    103.0
    """
    base, asked = _split_qualifier(name)
    if asked is not None and table is not None and asked != table:
        raise CRSError(f"'{name}' asks for the {asked} table but table={table!r} was given")
    wanted = asked or table
    entries = _INDEX.get(_name_key(base))
    if not entries:
        raise _unknown_province(base)
    pre = next((e for e in entries if e.table == _PRE), None)
    post = next((e for e in entries if e.table == _POST), None)
    if wanted == _PRE:
        chosen = pre
    elif wanted == _POST:
        chosen = post
    elif post is not None and pre is not None and post.meridian is not None:
        if post.meridian != pre.meridian:
            raise CRSError(
                f"'{base.strip()}' is in both VN-2000 meridian tables with different central "
                f"meridians: {_dm(_deg(pre.meridian or (0, 0)))} for {pre.province} before "
                f"1 July 2025 (Thông tư 973/2001/TT-TCĐC) and {_dm(_deg(post.meridian))} for "
                f"{post.province} from that date (Thông tư 24/2025/TT-BNNMT). "
                f"Fix: write VN2000:{post.province}@2025 for data of the merged province or "
                f"VN2000:{pre.province}@pre2025 for data of the former one"
            )
        chosen = post
    else:
        chosen = post or pre
    if chosen is None:
        other = "@pre2025" if wanted == _POST else "@2025"
        raise CRSError(
            f"'{base.strip()}' is not in the {wanted} VN-2000 meridian table. Fix: write "
            f"'{base.strip()}{other}', the name of the province it merged into, or the meridian"
        )
    if chosen.meridian is None:
        raise _unsettled(chosen, pre)
    zone = Vn2000Zone(chosen.province, _deg(chosen.meridian), chosen.table)
    log.debug("VN-2000 zone of %r: %s, %s table", name, _dm(zone.meridian_deg), zone.table)
    return zone


def _check_meridian(meridian_deg: float, *, given: str) -> float:
    """Return `meridian_deg` if it is a whole multiple of 15' within the accepted range."""
    value = float(meridian_deg)
    steps = value * 60 / _MERIDIAN_STEP_MIN
    if not math.isfinite(value) or not _MERIDIAN_MIN_DEG <= value <= _MERIDIAN_MAX_DEG:
        raise CRSError(
            f"VN-2000 central meridian {given} is outside {_dm(_MERIDIAN_MIN_DEG)}-"
            f"{_dm(_MERIDIAN_MAX_DEG)} E. Fix: give the zone's central meridian in degrees east, "
            "e.g. VN2000:105.75 or VN2000:105°45', or the province: VN2000:Hà Nội"
        )
    if abs(steps - round(steps)) > 1e-9:
        nearest = round(steps) * _MERIDIAN_STEP_MIN / 60
        raise CRSError(
            f"VN-2000 central meridian {given} is not a whole multiple of 15'; every provincial "
            f"zone's is. Fix: did you mean VN2000:{nearest:g} ({_dm(nearest)})?"
        )
    return round(steps) * _MERIDIAN_STEP_MIN / 60


def _parse_meridian(text: str) -> float:
    """Read ``105.75``, ``105,75``, ``105°45'``, ``105d45``, ``105d45m`` or ``105`` as degrees."""
    compact = text.strip()
    decimal = _DECIMAL_MERIDIAN.match(compact)
    if decimal:
        return _check_meridian(float(decimal["deg"].replace(",", ".")), given=compact)
    dm = _DM_MERIDIAN.match(compact)
    if dm:
        minutes = int(dm["min"] or 0)
        if minutes >= 60:
            raise CRSError(f"'{compact}': {minutes} minutes is not an angle. Fix: e.g. 105°45'")
        return _check_meridian(int(dm["deg"]) + minutes / 60, given=compact)
    raise CRSError(
        f"'{compact}' is not a central meridian hatangso can read. Fix: write decimal degrees "
        "(VN2000:105.75) or degrees and minutes (VN2000:105°45' or VN2000:105d45)"
    )


@functools.lru_cache(maxsize=64)
def _vn2000_projjson(meridian_deg: float, name: str) -> str:
    """PROJJSON of the bound VN-2000 TM-3 CRS (kept as text: CRS objects are made per call)."""
    base = pyproj.CRS.from_epsg(4756).to_json_dict()
    arcsec = {"type": "AngularUnit", "name": "arc-second", "conversion_factor": math.pi / 648000}
    ppm = {"type": "ScaleUnit", "name": "parts per million", "conversion_factor": 1e-6}

    def param(label: str, value: float, unit: Any, code: int) -> dict[str, Any]:
        return {
            "name": label,
            "value": value,
            "unit": unit,
            "id": {"authority": "EPSG", "code": code},
        }

    dx, dy, dz, rx, ry, rz, ds = _QD_05_2007_SHIFT
    projected = {
        "type": "ProjectedCRS",
        "name": name,
        "base_crs": base,
        "conversion": {
            "name": f"VN-2000 TM-3 {_dm(meridian_deg)}",
            "method": {"name": "Transverse Mercator", "id": {"authority": "EPSG", "code": 9807}},
            "parameters": [
                param("Latitude of natural origin", 0.0, "degree", 8801),
                param("Longitude of natural origin", meridian_deg, "degree", 8802),
                param("Scale factor at natural origin", 0.9999, "unity", 8805),
                param("False easting", 500000.0, "metre", 8806),
                param("False northing", 0.0, "metre", 8807),
            ],
        },
        "coordinate_system": {
            "subtype": "Cartesian",
            "axis": [
                {"name": "Easting", "abbreviation": "E", "direction": "east", "unit": "metre"},
                {"name": "Northing", "abbreviation": "N", "direction": "north", "unit": "metre"},
            ],
        },
    }
    bound = {
        "$schema": "https://proj.org/schemas/v0.7/projjson.schema.json",
        "type": "BoundCRS",
        "source_crs": projected,
        "target_crs": WGS84.to_json_dict(),
        "transformation": {
            "name": "VN-2000 to WGS 84 (2)",
            "method": {
                "name": "Coordinate Frame rotation (geog2D domain)",
                "id": {"authority": "EPSG", "code": 9607},
            },
            "parameters": [
                param("X-axis translation", dx, "metre", 8605),
                param("Y-axis translation", dy, "metre", 8606),
                param("Z-axis translation", dz, "metre", 8607),
                param("X-axis rotation", rx, arcsec, 8608),
                param("Y-axis rotation", ry, arcsec, 8609),
                param("Z-axis rotation", rz, arcsec, 8610),
                param("Scale difference", ds, ppm, 8611),
            ],
            "id": {"authority": "EPSG", "code": 6960},
        },
    }
    return json.dumps(bound, ensure_ascii=False)


def vn2000_crs(meridian_deg: float) -> pyproj.CRS:
    """Return the VN-2000 3-degree TM CRS with central meridian `meridian_deg`, bound to WGS 84.

    Parameters
    ----------
    meridian_deg
        Central meridian in degrees east: a whole multiple of 15' from 102°00' to 111°00'
        (every provincial meridian, 103°00'-108°30', and the national 3-degree zones 102°, 105°,
        108°, 111°).

    Returns
    -------
    pyproj.CRS
        A bound CRS: Transverse Mercator (latitude of origin 0, scale 0.9999, false easting
        500,000 m, false northing 0) on the VN-2000 datum (EPSG:4756, WGS 84 ellipsoid), with the
        datum shift to WGS 84 of Quyết định 05/2007/QĐ-BTNMT. Axes easting, northing in metres.
        Named ``VN-2000 / TM-3 105°45'``.

    Raises
    ------
    CRSError
        If the meridian is out of range or not a multiple of 15'.

    Notes
    -----
    The shift is the 7-parameter Helmert transformation of Quyết định 05/2007/QĐ-BTNMT
    (Δx = -191.90441429 m, Δy = -39.30318279 m, Δz = -111.45032835 m, ω = -0.00928836",
    ψ = 0.01975479", ε = -0.00427372", k = 1.000000252906278), which EPSG records as
    transformation 6960 "VN-2000 to WGS 84 (2)" with the same signs in the *coordinate frame*
    convention (method 9607). In PROJ's ``+towgs84``, which is *position vector*, the rotations
    change sign: ``+towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,
    0.00427372,0.252906278``. The wrong convention moves points by up to about 0.6 m.

    Binding the CRS to this transformation makes every reprojection use it, everywhere
    (EPSG:6960's stated area is onshore Vietnam; the same shift is applied to the islands).
    A CRS read from an EPSG code based on VN-2000 (EPSG:4756, 3405, 3406) is left to PROJ,
    which in the Mekong delta gas blocks DBSCL 02 and 03 picks EPSG transformation
    "VN-2000 to WGS 84 (1)" instead: the two differ there by under 1 m.

    Examples
    --------
    >>> crs = vn2000_crs(105.75)
    >>> crs.name, crs.is_projected
    ("VN-2000 / TM-3 105°45'", True)
    """
    value = _check_meridian(meridian_deg, given=f"{meridian_deg!r}")
    return pyproj.CRS.from_json(_vn2000_projjson(value, f"VN-2000 / TM-3 {_dm(value)}"))


def _from_epsg(code: int, *, given: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_epsg(code)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(
            f"'{given}' is not a known EPSG code. Fix: check the code (WGS 84 lon/lat is "
            "EPSG:4326, VN-2000 / UTM zone 48N EPSG:3405) or write VN2000:<province>"
        ) from exc


def _parse_vn2000(rest: str | None, *, given: str) -> pyproj.CRS:
    text = (rest or "").strip()
    if not text:
        raise CRSError(
            f"'{given}' does not say which VN-2000 zone. Fix: write the province "
            "(VN2000:Hà Nội) or the central meridian (VN2000:105.75); for VN-2000 longitude/"
            "latitude write EPSG:4756"
        )
    if text[0].isdigit():
        return vn2000_crs(_parse_meridian(text))
    zone = vn2000_zone(text)
    log.info(
        "CRS %r: VN-2000 TM-3 zone %s of %s (%s table)",
        given,
        _dm(zone.meridian_deg),
        zone.province,
        zone.table,
    )
    return zone.to_crs()


def parse_crs(value: str | int | pyproj.CRS) -> pyproj.CRS:
    """Read a CRS as a user writes it on the command line or in a scenario file.

    Parameters
    ----------
    value
        One of: a :class:`pyproj.CRS` (returned as is); an EPSG code (``3405``, ``"3405"``,
        ``"EPSG:3405"``); a PROJ string; WKT or PROJJSON; ``"VN2000:<province>"`` (see
        :func:`vn2000_zone`, including the ``@2025`` / ``@pre2025`` suffix); or
        ``"VN2000:<meridian>"`` with the meridian as ``105.75``, ``105,75``, ``105°45'``,
        ``105d45`` or ``105`` (a whole multiple of 15' from 102° to 111° E). The prefix may be
        written ``VN2000``, ``VN-2000`` or ``vn 2000``.

    Returns
    -------
    pyproj.CRS
        The CRS. ``VN2000:`` forms give :func:`vn2000_crs`'s bound CRS; EPSG codes, PROJ
        strings and WKT give what PROJ makes of them. A bare province name is refused, since
        PROJ reads some as other datums (``"Ha Noi"`` would be Hanoi 1972).

    Raises
    ------
    CRSError
        When the value cannot be read, with what was given and what to write instead.

    Examples
    --------
    >>> parse_crs("EPSG:3405").to_epsg()
    3405
    >>> parse_crs("VN2000:105°45'") == parse_crs("vn2000:Ho Chi Minh City")
    True
    """
    if isinstance(value, pyproj.CRS):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise CRSError(
            f"cannot read a CRS from {type(value).__name__} {value!r}. Fix: give an EPSG code, "
            "a PROJ string, WKT or VN2000:<province>"
        )
    if isinstance(value, int):
        return _from_epsg(value, given=str(value))
    text = nfc(value)
    if not text:
        raise CRSError(
            "the CRS is empty. Fix: give an EPSG code (EPSG:4326), a PROJ string, WKT, "
            "VN2000:<province> or VN2000:<meridian>"
        )
    vn2000 = _VN2000_PREFIX.match(text)
    if vn2000:
        return _parse_vn2000(vn2000["rest"], given=text)
    epsg = _EPSG_CODE.match(text)
    if epsg:
        return _from_epsg(int(epsg["code"]), given=text)
    if _name_key(text.partition("@")[0]) in _INDEX:
        # PROJ would read some bare names as other datums ("Ha Noi" is Hanoi 1972): refuse.
        raise CRSError(
            f"'{text}' is a province name, not a CRS. Fix: for the province's VN-2000 zone "
            f"write VN2000:{text}"
        )
    try:
        return pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(
            f"cannot read '{text}' as a CRS ({exc}). Fix: write an EPSG code (EPSG:4326), a "
            "PROJ string (+proj=...), WKT, VN2000:<province> or VN2000:<meridian>"
        ) from exc


def _utm_zone(lon_deg: float) -> int:
    """UTM zone number (1-60) of a longitude; a zone boundary belongs to the zone east of it."""
    return int(min(max(math.floor((lon_deg + 180.0) / 6.0) + 1, 1), 60))


def metric_crs(bounds: tuple[float, float, float, float]) -> pyproj.CRS:
    """Choose the projected CRS for metric work on an extent: the WGS 84 / UTM zone of its centre.

    Parameters
    ----------
    bounds
        ``(west, south, east, north)`` in WGS 84 degrees (as ``GeoDataFrame.total_bounds`` of
        data in EPSG:4326).

    Returns
    -------
    pyproj.CRS
        WGS 84 / UTM zone N or S (EPSG:326zz / 327zz), metres; for Vietnam zone 48N (EPSG:32648,
        west of 108° E) or 49N (EPSG:32649).

    Raises
    ------
    CRSError
        If the bounds are not finite WGS 84 degrees with west <= east and south <= north.

    Notes
    -----
    The zone is the one holding the extent's centre, as ``pyproj.database.query_utm_crs_info``
    and ``GeoDataFrame.estimate_utm_crs`` choose it. UTM's point scale factor grows from 0.9996 on
    the central meridian to about k0 (1 + (Δλ cos φ)² / 2) at Δλ from it (Snyder, *Map
    Projections: A Working Manual*, USGS PP 1395, eq. 8-11 to first order). For a province
    (1-2° wide) distances are right to within 0.1 %. For the whole mainland (102.1°-109.5° E,
    centre in zone 48, central meridian 105° E) they run from -0.04 % on the meridian to +0.26 %
    on the coast at 109.5° E (1.00265 at 8.2° N, 1.00222 at 23.4° N): 2.6 m per km. An extent
    taking in Trường Sa moves the centre into zone 49 and the western border, 8.9° from 111° E,
    reaches +1.0 % (1.2 % at the extent's south-west corner): run such extents per province. The
    worst scale error over the extent's corners is logged, as a warning above 0.5 %.
    """
    try:
        west, south, east, north = (float(v) for v in bounds)
    except (TypeError, ValueError) as exc:
        raise CRSError(
            f"bounds {bounds!r} are not four numbers (west, south, east, north)"
        ) from exc
    finite = all(math.isfinite(v) for v in (west, south, east, north))
    if not finite or not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise CRSError(
            f"bounds {bounds!r} are not WGS 84 degrees (west, south, east, north) with "
            "west <= east and south <= north. Fix: reproject the data to EPSG:4326 before "
            "taking its bounds"
        )
    lon_c, lat_c = (west + east) / 2, (south + north) / 2
    zone = _utm_zone(lon_c)
    crs = pyproj.CRS.from_epsg((32600 if lat_c >= 0 else 32700) + zone)
    central = zone * 6 - 183
    lons = np.array([west, east, west, east, lon_c], dtype=np.float64)
    lats = np.array([south, south, north, north, lat_c], dtype=np.float64)
    scale = pyproj.Proj(crs).get_factors(lons, lats).meridional_scale
    worst = float(np.max(np.abs(np.asarray(scale, dtype=np.float64) - 1.0)))
    message = "metric CRS %s (central meridian %d°) for bounds %s: scale error up to %.2f %%"
    level = logging.WARNING if worst > _SCALE_ERROR_WARN else logging.DEBUG
    log.log(level, message, crs.name, central, bounds, 100 * worst)
    return crs


def require_projected(crs: pyproj.CRS | None, *, what: str) -> None:
    """Raise unless `crs` is projected with metre axes: distances in degrees are an error.

    Parameters
    ----------
    crs
        The CRS of the data about to be measured.
    what
        What is being computed, for the message (e.g. ``"distance to the nearest site"``).

    Raises
    ------
    CRSError
        If `crs` is None, geographic (degrees), geocentric, or projected in units other than
        metres.

    Examples
    --------
    >>> require_projected(pyproj.CRS.from_epsg(32648), what="coverage radius")
    >>> require_projected(WGS84, what="coverage radius")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hatangso.geo.errors.CRSError: coverage radius asked of geographic coordinates (WGS 84, ...
    """
    if crs is None:
        raise CRSError(
            f"{what} needs coordinates in metres but the data have no CRS. Fix: give it with "
            "--crs (EPSG:4326 for longitude/latitude, VN2000:<province> for VN-2000 x/y)"
        )
    if not crs.is_projected:
        kind = "geographic" if crs.is_geographic else "non-projected"
        raise CRSError(
            f"{what} asked of {kind} coordinates ({crs.name}, in degrees or not in a plane). "
            "Fix: reproject first, to metric_crs(bounds) (UTM) or the province's VN-2000 zone"
        )
    factors = {axis.unit_conversion_factor for axis in crs.axis_info[:2]}
    if factors != {1.0}:
        units = ", ".join(sorted({axis.unit_name for axis in crs.axis_info[:2]}))
        raise CRSError(
            f"{what} needs metres but {crs.name} measures in {units}. Fix: reproject to "
            "metric_crs(bounds) or the province's VN-2000 zone"
        )


def _as_float_array(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def looks_like_lonlat(x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Tell which points (x = longitude, y = latitude) lie in Vietnam.

    Parameters
    ----------
    x, y
        Longitudes and latitudes in degrees (arrays of one shape, or scalars).

    Returns
    -------
    numpy.ndarray of bool
        True where the point falls in the mainland box (102.1-109.5° E, 8.2-23.4° N, with the
        near-shore islands), Hoàng Sa (111.0-113.0° E, 15.6-17.2° N) or Trường Sa (111.4-117.9° E,
        6.0-12.0° N). NaN is False.

    Examples
    --------
    >>> looks_like_lonlat([105.85, 21.03], [21.03, 105.85]).tolist()
    [True, False]
    """
    lon, lat = np.broadcast_arrays(_as_float_array(x), _as_float_array(y))
    inside = np.zeros(lon.shape, dtype=np.bool_)
    for west, south, east, north in _VIETNAM_LONLAT_BOXES:
        inside |= (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    return inside


def looks_swapped(x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Tell which lon/lat points lie outside Vietnam but inside it once x and y are swapped.

    Parameters
    ----------
    x, y
        What the input calls longitude and latitude.

    Returns
    -------
    numpy.ndarray of bool
        True where (y, x) lies in Vietnam and (x, y) does not (:func:`looks_like_lonlat`); the
        boxes cannot hold both readings of a point, so the answer is never ambiguous.

    Examples
    --------
    >>> looks_swapped([21.03, 105.85], [105.85, 21.03]).tolist()
    [True, False]
    """
    return ~looks_like_lonlat(x, y) & looks_like_lonlat(y, x)


def looks_like_vn2000_xy(x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Tell which points read as VN-2000 TM-3 easting (x) and northing (y) on the mainland.

    Parameters
    ----------
    x, y
        Eastings and northings in metres.

    Returns
    -------
    numpy.ndarray of bool
        True where 100,000 <= x <= 900,000 and 850,000 <= y <= 2,650,000 (8.2° N is about
        906 km north of the equator, 23.4° N about 2,590 km). Trường Sa, far east of Khánh Hòa's
        meridian, falls outside these ranges and is never recognised. NaN is False.

    Examples
    --------
    >>> looks_like_vn2000_xy([585_000.0], [2_326_000.0]).tolist()
    [True]
    """
    easting, northing = np.broadcast_arrays(_as_float_array(x), _as_float_array(y))
    e_lo, e_hi = _EASTING_RANGE_M
    n_lo, n_hi = _NORTHING_RANGE_M
    return (easting >= e_lo) & (easting <= e_hi) & (northing >= n_lo) & (northing <= n_hi)


def looks_like_northing_easting(x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Tell which points have the northing in x and the easting in y, as surveyors write them.

    Vietnamese survey practice (and the TM formulas of Thông tư 973/2001/TT-TCĐC) call the
    northing X and the easting Y; a file with columns ``x``, ``y`` filled that way has them
    swapped for GIS use. Validation stops with "swap x and y" where this is True.

    Parameters
    ----------
    x, y
        What the input calls x and y, in metres.

    Returns
    -------
    numpy.ndarray of bool
        True where (y, x) reads as a mainland easting/northing and (x, y) does not
        (:func:`looks_like_vn2000_xy`). Points near 850-900 km read both ways (the far south
        and an easting 400 km off the meridian) and are not reported.

    Examples
    --------
    >>> looks_like_northing_easting([2_326_000.0, 585_000.0], [585_000.0, 2_326_000.0]).tolist()
    [True, False]
    """
    return ~looks_like_vn2000_xy(x, y) & looks_like_vn2000_xy(y, x)
