"""Vietnam's admin units before and after the reform of 1 July 2025, and a village's place in both.

The reform merged 63 provinces into 34, removed the districts and merged about 10,000 communes
and wards into 3,321. A village keeps its ``village_id`` across the reform; its units are
carried in two hierarchies (the columns of :data:`hatangso.geo.schema.UNIT_COLUMNS`):

* before: ``province_code_old``, ``province_old``, ``district_code_old``, ``district_old``,
  ``commune_code_old``, ``commune_old``;
* after: ``province_code_new``, ``province_new``, ``commune_code_new``, ``commune_new``.

The official lists and the ward-level mapping between them come from the ``vietnamadminunits``
package (its SQLite dataset of both hierarchies and its 2025 conversion table); nothing of the
hierarchy is typed here. :func:`admin_units` reads them once per process, and the lists with
their indexes by name and code are kept in the user's cache folder (``$HATANGSO_CACHE_DIR``,
else ``$XDG_CACHE_HOME/hatangso`` or ``~/.cache/hatangso``), one file per version of the
package: a later run reads them back in a twentieth of the time it takes to build them.

Names are matched after :func:`unit_key`: case, diacritics, separators and the type prefix
(``Tỉnh``, ``Thành phố``, ``Quận``, ``Huyện``, ``Thị xã``, ``Phường``, ``Xã``, ``Thị trấn``,
``Đặc khu``, ``TP.``) do not count, and ``Phường 05`` is ``Phường 5``. A value of digits only
is also tried as a code. A value that matches two units is reported and left blank, never
picked; so is an old ward that was divided among several new wards (its villages' new commune
cannot be told from the name alone).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import pickle
import re
import sqlite3
from collections.abc import Hashable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from hatangso.geo.errors import InputError, Problem
from hatangso.geo.schema import UNIT_COLUMNS, UNIT_LEVELS
from hatangso.geo.text import fold_key, nfc

__all__ = [
    "AdminUnits",
    "UnitResolution",
    "admin_units",
    "admin_units_cache",
    "check_units",
    "province_names",
    "resolve_units",
    "unit_columns",
    "unit_key",
]

log = logging.getLogger(__name__)

Hierarchy = Literal["old", "new"]
ObjectArray = npt.NDArray[np.object_]

# Type prefixes, longest first, as written before a unit's name (matched on the case-folded
# text, before the diacritics are dropped, so that "Xà Phiên" keeps its "Xà").
_PREFIXES = (
    "thành phố",
    "thị trấn",
    "thị xã",
    "đặc khu",
    "tỉnh",
    "quận",
    "huyện",
    "phường",
    "xã",
    "tp",
    "tx",
    "tt",
)
_PREFIX = re.compile(r"^(?:" + "|".join(re.escape(p) for p in _PREFIXES) + r")(?:[\s.]+|(?=\d))")
_DIGITS = re.compile(r"^\d+$")


def unit_key(name: str) -> str:
    """Return the matching key of a unit's name: no type prefix, case or diacritics.

    Parameters
    ----------
    name
        A province, district or commune name as written (``Tỉnh Cà Mau``, ``TP. Hồ Chí Minh``).

    Returns
    -------
    str
        The folded name; a number loses its leading zeros.

    Examples
    --------
    >>> unit_key("Tỉnh Cà Mau") == unit_key("Ca Mau") == "camau"
    True
    >>> unit_key("TP. Hồ Chí Minh")
    'hochiminh'
    >>> unit_key("Phường 05"), unit_key("Xà Phiên")
    ('5', 'xaphien')
    """
    text = nfc(name).casefold()
    text = _PREFIX.sub("", text, count=1)
    key = fold_key(text)
    return key.lstrip("0") or key if _DIGITS.match(key) else key


# Prefixes as written without diacritics; tried last, as "Quan Hoa" is Huyện Quan Hóa and
# "Xa Phien" may be Xà Phiên (so bare "xa" is not one of them).
_BARE_PREFIX = re.compile(r"^(?:thanh pho|thi tran|thi xa|dac khu|tinh|quan|huyen|phuong|tp)[\s.]+")


def _bare(value: str) -> str:
    """Return the key of `value` with a prefix written without diacritics dropped."""
    return unit_key(_BARE_PREFIX.sub("", _fold_spaced(value), count=1))


def _fold_spaced(text: str) -> str:
    """Return `text` in lower case without diacritics, its spaces kept."""
    return " ".join(fold_key(word) for word in nfc(text).split())


def _code(value: str) -> int | None:
    """Return `value` as a unit code when it is digits only, else None."""
    text = value.strip()
    return int(text) if _DIGITS.match(text) else None


@dataclass(frozen=True)
class AdminUnits:
    """The official units before and after 1 July 2025 and the links between them.

    Attributes
    ----------
    old
        One row per commune-level unit before the reform (island districts without communes
        are one row with no commune): ``province_code``, ``province``, ``district_code``,
        ``district``, ``commune_code``, ``commune`` (codes as zero-padded strings, the
        official ``01``, ``001``, ``00001``; names in full, ``Phường Bến Nghé``).
    new
        One row per commune-level unit after the reform: ``province_code``, ``province``,
        ``commune_code``, ``commune``.
    links
        ``old`` and ``new`` (row positions in the two frames): the old unit went, whole or in
        part, into the new one; ``divided`` (bool): the old unit was divided among several
        new ones.
    provinces
        ``old`` and ``new`` province codes: the old province went into the new one.
    old_aliases, new_aliases
        Short forms of province names (``hcm``, ``hn``) and the code they stand for.
    """

    old: pd.DataFrame
    new: pd.DataFrame
    links: pd.DataFrame
    provinces: pd.DataFrame
    old_aliases: Mapping[str, str] = field(default_factory=dict)
    new_aliases: Mapping[str, str] = field(default_factory=dict)

    def new_of_old(self, commune_code: str) -> pd.DataFrame:
        """Return the new units an old commune went into (several when it was divided).

        Examples
        --------
        >>> units = admin_units()
        >>> units.new_of_old("26740")[["commune_code", "commune"]].to_numpy().tolist()
        [['26740', 'Phường Sài Gòn']]
        """
        rows = np.flatnonzero((self.old["commune_code"] == commune_code).fillna(False))
        news = self.links.loc[self.links["old"].isin(rows), "new"].unique()
        return self.new.iloc[np.sort(news)]

    def old_of_new(self, commune_code: str) -> pd.DataFrame:
        """Return the old units a new commune was made of (whole or in part).

        Examples
        --------
        >>> units = admin_units()
        >>> sorted(units.old_of_new("27316")["commune"])
        ['Phường 5', 'Phường 7', 'Phường 9']
        """
        rows = np.flatnonzero((self.new["commune_code"] == commune_code).fillna(False))
        olds = self.links.loc[self.links["new"].isin(rows), "old"].unique()
        return self.old.iloc[np.sort(olds)]

    def new_province_of_old(self, province_code: str) -> str:
        """Return the code of the new province an old province went into.

        Examples
        --------
        >>> admin_units().new_province_of_old("95")  # Bạc Liêu went into Cà Mau
        '96'
        """
        hit = self.provinces.loc[self.provinces["old"] == province_code, "new"]
        return str(hit.iloc[0])

    def old_provinces_of_new(self, province_code: str) -> list[str]:
        """Return the codes of the old provinces a new province was made of.

        Examples
        --------
        >>> admin_units().old_provinces_of_new("96")
        ['95', '96']
        """
        return sorted(self.provinces.loc[self.provinces["new"] == province_code, "old"])


def _package_data() -> Path:
    """Return the data folder of ``vietnamadminunits``: its SQLite lists and conversion table.

    The tables are read as data: importing the package would load its address parsers and a
    geocoder (which goes on line for a street address), neither of which is needed here.

    Raises
    ------
    ModuleNotFoundError
        If the package is not installed.
    """
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("vietnamadminunits is not installed: pip install hatangso")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def admin_units() -> AdminUnits:
    """Read the official units and their links from ``vietnamadminunits``, once per process.

    Returns
    -------
    AdminUnits
    """
    return _tables().units


#: Each hierarchy's levels, as :func:`_index` indexes them.
_INDEXED: tuple[tuple[Hierarchy, str], ...] = (
    ("old", "province"),
    ("old", "district"),
    ("old", "commune"),
    ("new", "province"),
    ("new", "commune"),
)

#: The layout of the cached tables; bumped when what :func:`_build_tables` makes changes.
_CACHE_LAYOUT = 1


@dataclass(frozen=True)
class _Tables:
    """The official units, their indexes by key and code (:func:`_index`) and their links."""

    units: AdminUnits
    indexes: Mapping[tuple[Hierarchy, str], dict[Hashable, tuple[int, ...]]]
    links: _Links


def admin_units_cache() -> Path | None:
    """Return the file the official units are cached in, None when no cache folder is known.

    The file need not exist yet: :func:`admin_units` writes it on its first call.
    """
    return _cache_file(_package_data())


def _cache_file(data: Path) -> Path | None:
    """Return the cache file of the tables read from `data`, None when no folder is known.

    Named by the package's version, the layout and the data files' sizes and times, so that
    another version (or data changed in place) is read again, never taken from the cache.
    """
    folder = os.environ.get("HATANGSO_CACHE_DIR")
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or (
            str(Path.home() / ".cache") if Path.home().is_dir() else ""
        )
        if not base:
            return None
        folder = str(Path(base) / "hatangso")
    stamp = "-".join(
        f"{(data / name).stat().st_size}.{(data / name).stat().st_mtime_ns}"
        for name in ("dataset.db", "converter_2025.json")
    )
    version = importlib.metadata.version("vietnamadminunits")
    return Path(folder) / f"admin-units-{version}-v{_CACHE_LAYOUT}-{stamp}.pickle"


@cache
def _tables() -> _Tables:
    """Return the units and their indexes: from the cache file when there is one, else built.

    A cache file that cannot be read is built again; one that cannot be written is skipped
    (the run is the same, only slower).
    """
    data = _package_data()
    path = _cache_file(data)
    if path is not None and path.is_file():
        try:
            with path.open("rb") as stream:
                tables = pickle.load(stream)
            if isinstance(tables, _Tables):
                return tables
        except Exception as error:  # a torn or foreign file: built again below
            log.debug("admin units cache %s not read: %s", path, error)
    units = _read_units(data)
    indexes = {key: _build_index(units, *key) for key in _INDEXED}
    tables = _Tables(units, indexes, _Links.of(units))
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            with temporary.open("wb") as stream:
                pickle.dump(tables, stream, protocol=pickle.HIGHEST_PROTOCOL)
            temporary.replace(path)
        except OSError as error:
            log.debug("admin units cache %s not written: %s", path, error)
    return tables


def _read_units(data: Path) -> AdminUnits:
    """Read the official units and their links from the package's `data` folder."""
    conversion = json.loads((data / "converter_2025.json").read_text(encoding="utf-8"))

    def query(sql: str) -> list[dict[str, Any]]:
        with closing(sqlite3.connect(f"{(data / 'dataset.db').as_uri()}?mode=ro", uri=True)) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(sql)]

    old_rows = query(
        "SELECT provinceCode, province, provinceKey, districtCode, district, districtKey, "
        "wardCode, ward, wardKey FROM admin_units_legacy ORDER BY wardCode, districtCode"
    )
    new_rows = query(
        "SELECT provinceCode, province, provinceKey, wardCode, ward, wardKey "
        "FROM admin_units ORDER BY wardCode"
    )
    old = pd.DataFrame(
        {
            "province_code": [r["provinceCode"] for r in old_rows],
            "province": [r["province"] for r in old_rows],
            "district_code": [r["districtCode"] for r in old_rows],
            "district": [r["district"] for r in old_rows],
            "commune_code": [r["wardCode"] for r in old_rows],
            "commune": [r["ward"] for r in old_rows],
        },
        dtype="string",
    )
    new = pd.DataFrame(
        {
            "province_code": [r["provinceCode"] for r in new_rows],
            "province": [r["province"] for r in new_rows],
            "commune_code": [r["wardCode"] for r in new_rows],
            "commune": [r["ward"] for r in new_rows],
        },
        dtype="string",
    )
    # The conversion table names units by keys: "<province>_<district>_<ward>" before, the
    # new province's key and the ward's key after.
    old_at = {
        f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey'] or ''}": i
        for i, r in enumerate(old_rows)
    }
    new_at = {(r["provinceKey"], r["wardKey"]): i for i, r in enumerate(new_rows)}
    pairs: list[tuple[int, int, bool]] = []
    for province, wards in conversion["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for ward, sources in wards.items():
            pairs.extend((old_at[s], new_at[(province, ward)], False) for s in sources)
    for province, divided in conversion["DICT_PROVINCE_WARD_DIVIDED"].items():
        for source, targets in divided.items():
            pairs.extend(
                (old_at[source], new_at[(province, t["newWardKey"])], True) for t in targets
            )
    links = pd.DataFrame(pairs, columns=["old", "new", "divided"])
    old_province = {r["provinceKey"]: r["provinceCode"] for r in old_rows}
    new_province = {r["provinceKey"]: r["provinceCode"] for r in new_rows}
    provinces = pd.DataFrame(
        [
            (old_province[source], new_province[target])
            for target, sources in conversion["DICT_PROVINCE"].items()
            for source in sources
        ],
        columns=["old", "new"],
    )
    aliases = {
        table: {
            alias: str(r["provinceCode"])
            for r in query(f"SELECT DISTINCT provinceCode, provinceAlias FROM {table}")
            if r["provinceAlias"]
            for alias in json.loads(r["provinceAlias"])
        }
        for table in ("admin_units_legacy", "admin_units")
    }
    log.debug("admin units: %d before, %d after, %d links", len(old), len(new), len(links))
    return AdminUnits(
        old=old,
        new=new,
        links=links,
        provinces=provinces,
        old_aliases=aliases["admin_units_legacy"],
        new_aliases=aliases["admin_units"],
    )


def _index(hierarchy: Hierarchy, level: str) -> dict[Hashable, tuple[int, ...]]:
    """Rows of `hierarchy` by the key and by the code of their `level` unit."""
    return _tables().indexes[(hierarchy, level)]


def _build_index(
    units: AdminUnits, hierarchy: Hierarchy, level: str
) -> dict[Hashable, tuple[int, ...]]:
    """Build :func:`_index` of `hierarchy` and `level` from `units`."""
    frame = units.old if hierarchy == "old" else units.new
    found: dict[Hashable, list[int]] = {}
    # Each distinct name is folded once (a province's name stands on thousands of rows).
    for kind, fold in (("name", unit_key), ("full", fold_key)):
        groups, distinct = pd.factorize(frame[level])
        keys = np.asarray([fold(str(name)) for name in distinct], dtype=object)
        for i, key in zip(np.flatnonzero(groups >= 0), keys[groups[groups >= 0]], strict=True):
            found.setdefault((kind, key), []).append(int(i))
    codes = pd.to_numeric(frame[f"{level}_code"]).to_numpy(dtype=float)
    for i in np.flatnonzero(np.isfinite(codes)):
        found.setdefault(("code", int(codes[i])), []).append(int(i))
    if level == "province":  # the short forms every office writes (HCM, HN), as listed
        aliases = units.old_aliases if hierarchy == "old" else units.new_aliases
        for alias, code in aliases.items():
            rows = found.get(("code", int(code)), [])
            found.setdefault(("name", unit_key(alias)), []).extend(rows)
    return {key: tuple(rows) for key, rows in found.items()}


@lru_cache(maxsize=1 << 16)
def _keys(value: str) -> tuple[tuple[str, str], ...]:
    """Return the keys `value` is looked up by: full name, name, name without a bare prefix.

    Folded once per distinct value and process: a commune is looked up in both hierarchies,
    a province on every row of a national register.
    """
    return ("full", fold_key(value)), ("name", unit_key(value)), ("name", _bare(value))


@lru_cache(maxsize=1 << 16)
def _rows(value: str, hierarchy: Hierarchy, level: str) -> frozenset[int]:
    """Rows of `hierarchy` whose `level` unit is `value` (by full name, else name, or code).

    Kept per distinct value and process, as the register's index is (:func:`_index`).
    """
    index = _index(hierarchy, level)
    rows: frozenset[int] = frozenset()
    for key in _keys(value):
        rows = frozenset(index.get(key, ()))
        if rows:
            break
    code = _code(value)
    if code is not None:
        rows |= frozenset(index.get(("code", code), ()))
    return rows


#: How many names of each kind of problem the notes spell out.
_SHOWN = 10


@dataclass(frozen=True)
class UnitResolution:
    """The villages with their units in both hierarchies, and what could not be placed.

    Attributes
    ----------
    villages
        The input villages plus the columns of :data:`~hatangso.geo.schema.UNIT_COLUMNS`
        (``string`` dtype, ``<NA>`` where not known).
    hierarchy
        The hierarchy the file's names are written in: ``old``, ``new``, or ``unknown`` when
        none of its units is found in either.
    matched
        Villages placed, by the hierarchy their names were found in (``old``, ``new``, ``both``
        when a unit kept its name and code across the reform).
    ambiguous
        ``(column, value as written, candidates)`` for every unit name that matches more than
        one unit: reported, left blank.
    not_found
        ``(column, value as written)`` for every unit found in neither hierarchy.
    divided
        Villages in an old commune divided among several new ones: new commune left blank.
    """

    villages: pd.DataFrame
    hierarchy: str
    matched: Mapping[str, int]
    ambiguous: tuple[tuple[str, str, tuple[str, ...]], ...]
    not_found: tuple[tuple[str, str], ...]
    divided: int

    @property
    def any_placed(self) -> bool:
        """Whether any village has any unit, in either hierarchy (a province is enough)."""
        return bool(self.villages[list(UNIT_COLUMNS)].notna().any(axis=None))

    def notes(self) -> list[str]:
        """Return one sentence per problem, to report beside the KPIs."""
        out = [
            f"{column} {value!r} matches {len(found)} units ({'; '.join(found[:4])}"
            f"{' ...' if len(found) > 4 else ''}): left blank; "
            f"give the {'district or the ' if column == 'commune' else ''}code to pick one"
            for column, value, found in self.ambiguous[:_SHOWN]
        ]
        if len(self.ambiguous) > _SHOWN:
            out.append(f"and {len(self.ambiguous) - _SHOWN} more names that match several units")
        if self.not_found:
            shown = ", ".join(f"{c} {v!r}" for c, v in self.not_found[:_SHOWN])
            left = len(self.not_found) - _SHOWN
            more = f" and {left} more" if left > 0 else ""
            out.append(
                f"{len(self.not_found)} admin units found in neither the list before nor the "
                f"list after 1 July 2025: {shown}{more}"
            )
        if self.divided:
            out.append(
                f"{self.divided} villages lie in old communes divided among several new ones: "
                "their new commune is left blank; give commune_code_new to place them"
            )
        return out


def _text(values: pd.Series[Any] | None, n: int) -> ObjectArray:
    """`values` as an object array of stripped strings, None where empty or absent."""
    if values is None:
        return np.full(n, None, dtype=object)
    out = _objects(values.astype("string").str.strip())
    out[out == ""] = None
    return out


def _objects(values: pd.Series[Any]) -> ObjectArray:
    """`values` as an object array, None where missing."""
    out: ObjectArray = values.to_numpy(dtype=object)
    out[pd.isna(out)] = None
    return out


def resolve_units(villages: pd.DataFrame) -> UnitResolution:
    """Place each village in the units before and after 1 July 2025, from what its file gives.

    The file's ``province``, ``district`` and ``commune`` columns are read in either hierarchy,
    by name or code. A ``district`` puts the row in the old hierarchy (the reform removed
    them). A commune found in one hierarchy only is placed there and carried across by the
    official mapping; one found in both (a ward that kept its name or code) is placed in both
    when the mapping links the two, else reported. Each distinct ``(province, district,
    commune)`` is resolved once and the answer spread to its villages.

    Parameters
    ----------
    villages
        Villages with any of ``province``, ``district``, ``commune`` (text).

    Returns
    -------
    UnitResolution
        The villages, row for row and with their index, plus the unit columns.

    Examples
    --------
    >>> import pandas as pd
    >>> villages = pd.DataFrame({"village_id": ["a"], "commune": ["Phường 7"],
    ...                          "district": ["Quận 5"], "province": ["TP HCM"]})
    >>> placed = resolve_units(villages).villages
    >>> placed.loc[0, ["commune_old", "commune_new", "province_new"]].tolist()
    ['Phường 7', 'Phường An Đông', 'Thành phố Hồ Chí Minh']
    """
    n = len(villages)
    given = {
        level: _text(villages[level] if level in villages else None, n)
        for level in ("province", "district", "commune")
    }
    out = {column: np.full(n, None, dtype=object) for column in UNIT_COLUMNS}
    if n == 0 or not any(pd.notna(col).any() for col in given.values()):
        return UnitResolution(_assign(villages, out), "unknown", {}, (), (), 0)
    groups, uniques = _distinct(given["province"], given["district"], given["commune"])
    units = admin_units()
    solver = _Solver(units)
    placed = np.asarray([solver.place(p, d, c) for p, d, c in uniques], dtype=object).reshape(
        len(uniques), 4
    )[groups]
    old_rows = placed[:, 0].astype(np.int64)
    new_rows = placed[:, 1].astype(np.int64)
    _fill(out, units.old, old_rows, "old", UNIT_LEVELS["old"])
    _fill(out, units.new, new_rows, "new", UNIT_LEVELS["new"])
    _fill_provinces(out, units, old_codes=placed[:, 2], new_codes=placed[:, 3])
    matched = {
        side: int(np.count_nonzero(np.isin(groups, sorted(found))))
        for side, found in solver.matched.items()
    }
    divided = int(np.count_nonzero(np.isin(groups, sorted(solver.divided))))
    counts = {"old": matched.get("old", 0), "new": matched.get("new", 0)}
    hierarchy = "unknown"
    if matched.get("both", 0) or any(counts.values()):
        hierarchy = "new" if counts["new"] > counts["old"] else "old"
    result = UnitResolution(
        villages=_assign(villages, out),
        hierarchy=hierarchy,
        matched=matched,
        ambiguous=tuple(solver.ambiguous),
        not_found=tuple(solver.not_found),
        divided=divided,
    )
    for note in result.notes():
        log.warning("villages: %s", note)
    return result


def _distinct(*columns: ObjectArray) -> tuple[npt.NDArray[np.intp], list[tuple[str | None, ...]]]:
    """Return each row's number and the distinct rows of `columns` (text or None).

    Rows are numbered in order of first appearance. Each column is factorized on its own and
    the codes combined (factorized again at each step, so that they stay small), which is
    much faster than hashing tuples of strings.
    """
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        code, distinct = pd.factorize(column)
        combined = pd.factorize(combined * (len(distinct) + 1) + code + 1)[0].astype(np.int64)
    groups = combined.astype(np.intp)
    first = np.unique(groups, return_index=True)[1]
    rows = [tuple(_none(v) for v in row) for row in zip(*(c[first] for c in columns), strict=True)]
    return groups, rows


def _none(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class _Links:
    """The official links as the solver looks them up (read only, shared by every run)."""

    whole: Mapping[int, int]
    sources: Mapping[Hashable, tuple[int, ...]]
    old_province: ObjectArray
    new_province: ObjectArray
    targets: Mapping[Hashable, set[str]]
    parts: Mapping[Hashable, set[str]]

    @classmethod
    def of(cls, units: AdminUnits) -> _Links:
        whole = units.links.loc[~units.links["divided"]]
        return cls(
            whole=dict(zip(whole["old"], whole["new"], strict=True)),
            sources=units.links.groupby("new")["old"].agg(tuple).to_dict(),
            old_province=units.old["province_code"].to_numpy(dtype=object),
            new_province=units.new["province_code"].to_numpy(dtype=object),
            targets=units.provinces.groupby("old")["new"].agg(set).to_dict(),
            parts=units.provinces.groupby("new")["old"].agg(set).to_dict(),
        )


def _links() -> _Links:
    """Return the links of :func:`admin_units`, built once per process."""
    return _tables().links


class _Solver:
    """Places distinct ``(province, district, commune)`` triples; remembers what it reported."""

    def __init__(self, units: AdminUnits) -> None:
        self.units = units
        self.matched: dict[str, set[int]] = {"old": set(), "new": set(), "both": set()}
        self.divided: set[int] = set()
        self.ambiguous: list[tuple[str, str, tuple[str, ...]]] = []
        self.not_found: list[tuple[str, str]] = []
        self._seen: set[tuple[str, str]] = set()
        self._step = 0
        links = _links() if units is admin_units() else _Links.of(units)
        self._whole = links.whole
        self._sources = links.sources
        self._old_province = links.old_province
        self._new_province = links.new_province
        self._targets = links.targets
        self._parts = links.parts

    def _report(self, column: str, value: str, found: Sequence[str]) -> None:
        if (column, value) in self._seen:
            return
        self._seen.add((column, value))
        if found:
            self.ambiguous.append((column, value, tuple(sorted(set(found)))))
        else:
            self.not_found.append((column, value))

    def place(
        self, province: str | None, district: str | None, commune: str | None
    ) -> tuple[int, int, str | None, str | None]:
        """Return the old and new rows (-1: unknown) and the old and new province codes.

        The province codes are those the province value names, for villages whose commune is
        not placed (None: unknown or placed by the commune).
        """
        u = self._step
        self._step += 1
        old_codes: set[str] = set()
        new_codes: set[str] = set()
        if province is not None:
            old_codes = {self._old_province[r] for r in _rows(province, "old", "province")}
            new_codes = {self._new_province[r] for r in _rows(province, "new", "province")}
            if not old_codes and not new_codes:
                self._report("province", province, ())
        if commune is None:
            return -1, -1, *self._provinces(province, old_codes, new_codes)
        # A file may name the new province beside an old commune, or the reverse: the units
        # are looked for in the province named, then in what it became or was made of.
        wider_old = set().union(*(self._parts[c] for c in new_codes))
        wider_new = set().union(*(self._targets[c] for c in old_codes))
        cand_old = _rows(commune, "old", "commune")
        if district is not None:
            in_district = _rows(district, "old", "district")
            if province is not None:
                in_district = _within(in_district, self._old_province, old_codes, wider_old)
            if not in_district:
                self._report("district", district, ())
            cand_old &= in_district
        if province is not None:
            cand_old = _within(cand_old, self._old_province, old_codes, wider_old)
        cand_new: frozenset[int] = frozenset()
        if district is None:
            cand_new = _rows(commune, "new", "commune")
            if province is not None:
                cand_new = _within(cand_new, self._new_province, new_codes, wider_new)
        if len(cand_old) == 1 and len(cand_new) == 1:
            (o,), (w,) = cand_old, cand_new
            if self._whole.get(o) == w or self._sources.get(w) == (o,):
                self.matched["both"].add(u)
                return o, w, None, None
        elif len(cand_old) == 1 and not cand_new:
            (o,) = cand_old
            self.matched["old"].add(u)
            w = self._whole.get(o, -1)
            if w < 0:
                self.divided.add(u)
            return o, w, None, None
        elif len(cand_new) == 1 and not cand_old:
            (w,) = cand_new
            self.matched["new"].add(u)
            sources = self._sources.get(w, ())
            if len(sources) == 1:
                return sources[0], w, None, None
            parts = {self._old_province[r] for r in sources}
            return -1, w, (parts.pop() if len(parts) == 1 else None), None
        found: list[str] = []
        if ("commune", commune) not in self._seen:  # labelled once, as reported once
            found = [_label(self.units.old, r, "old") for r in sorted(cand_old)]
            found += [_label(self.units.new, r, "new") for r in sorted(cand_new)]
        self._report("commune", commune, found)
        return -1, -1, *self._provinces(province, old_codes, new_codes)

    def _provinces(
        self, province: str | None, old_codes: set[str], new_codes: set[str]
    ) -> tuple[str | None, str | None]:
        """Return the old and new province codes a province value names (None: unknown)."""
        if len(old_codes) > 1 or len(new_codes) > 1:
            self._report("province", province or "", sorted(old_codes | new_codes))
            return None, None
        if old_codes:
            (o,) = old_codes
            (w,) = self._targets[o]
            if new_codes and new_codes != {w}:
                self._report("province", province or "", sorted(old_codes | new_codes))
                return None, None
            return o, w
        if new_codes:
            (w,) = new_codes
            parts = self._parts[w]
            return (next(iter(parts)) if len(parts) == 1 else None), w
        return None, None


def _within(
    rows: frozenset[int], province_of: ObjectArray, first: set[str], then: set[str]
) -> frozenset[int]:
    """`rows` in the provinces `first`, else in the provinces `then`."""
    inside = frozenset(r for r in rows if province_of[r] in first)
    return inside or frozenset(r for r in rows if province_of[r] in then)


def _label(frame: pd.DataFrame, row: int, hierarchy: str) -> str:
    """Return a unit as a person would look it up: path of names, code, hierarchy."""
    parts = [frame[c].iat[row] for c in ("province", "district", "commune") if c in frame]
    path = " / ".join(str(p) for p in parts if isinstance(p, str))
    return f"{path} ({frame['commune_code'].iat[row]}, {hierarchy})"


def _fill(
    out: dict[str, ObjectArray],
    frame: pd.DataFrame,
    rows: npt.NDArray[np.int64],
    suffix: str,
    levels: Sequence[str],
) -> None:
    """Copy the units of `rows` (-1: none) into the `suffix` columns, vectorised."""
    known = rows >= 0
    for level in levels:
        for column in (f"{level}_code", level):
            values = _objects(frame[column])
            out[f"{column}_{suffix}"][known] = values[rows[known]]


def _fill_provinces(
    out: dict[str, ObjectArray],
    units: AdminUnits,
    *,
    old_codes: ObjectArray,
    new_codes: ObjectArray,
) -> None:
    """Fill the provinces of villages whose commune is not placed, then carry old to new."""
    for side, frame, codes in (("old", units.old, old_codes), ("new", units.new, new_codes)):
        names = pd.Series(
            frame["province"].to_numpy(dtype=object), index=frame["province_code"].to_numpy()
        )
        names = names[~names.index.duplicated()]
        fill = pd.notna(codes) & pd.isna(out[f"province_code_{side}"])
        out[f"province_code_{side}"][fill] = codes[fill]
        out[f"province_{side}"][fill] = names.reindex(codes[fill]).to_numpy(dtype=object)
    # Every old province went whole into one new province: a village placed before the
    # reform has its new province even where its new commune is not known.
    targets = units.provinces.drop_duplicates("old").set_index("old")["new"]
    new_names = units.new.drop_duplicates("province_code").set_index("province_code")["province"]
    carry = pd.notna(out["province_code_old"]) & pd.isna(out["province_code_new"])
    if carry.any():
        carried = targets.reindex(out["province_code_old"][carry]).to_numpy(dtype=object)
        out["province_code_new"][carry] = carried
        out["province_new"][carry] = new_names.reindex(carried).to_numpy(dtype=object)


def _assign(villages: pd.DataFrame, out: Mapping[str, ObjectArray]) -> pd.DataFrame:
    """`villages` plus the unit columns (``string`` dtype), a new frame.

    A unit column the file already carries (a village register that gives, say, the new
    commune's code itself) wins over what was resolved, cell by cell where it is not blank.
    """
    columns: dict[str, Any] = {}
    for name, values in out.items():
        resolved = pd.Series(_strings(values), index=villages.index)
        if name in villages:
            given = villages[name].astype("string").str.strip()
            given = given.where(given != "")
            resolved = given.fillna(resolved)
        columns[name] = resolved
    return villages.assign(**columns)


def _strings(values: ObjectArray) -> pd.api.extensions.ExtensionArray:
    """`values` (text, None or NaN) as a ``string`` array, through Arrow when it can."""
    try:
        import pyarrow as pa

        arrow = pa.array(values, type=pa.large_string(), from_pandas=True)
    except (ImportError, TypeError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
        arrow = values
    strings: pd.api.extensions.ExtensionArray = pd.array(arrow, dtype="string")
    return strings


def check_units(value: str) -> Hierarchy:
    """Return `value` as a hierarchy, ``old`` or ``new``.

    Raises
    ------
    InputError
        If `value` is neither.

    Examples
    --------
    >>> check_units("new")
    'new'
    """
    if value == "old":
        return "old"
    if value == "new":
        return "new"
    raise InputError(
        Problem(
            file="units",
            message=f"unknown admin hierarchy {value!r}",
            fix="use 'old' (before 1 July 2025) or 'new' (after it)",
        )
    )


def unit_columns(hierarchy: Hierarchy) -> dict[str, str]:
    """Map the level names of `hierarchy` to the village columns that hold their units.

    Examples
    --------
    >>> unit_columns("new")
    {'province': 'province_new', 'commune': 'commune_new'}
    """
    return {level: f"{level}_{hierarchy}" for level in UNIT_LEVELS[hierarchy]}


def province_names(hierarchy: Hierarchy) -> list[str]:
    """Return the official names of the provinces of `hierarchy` (63 before, 34 after).

    Examples
    --------
    >>> len(province_names("old")), len(province_names("new"))
    (63, 34)
    """
    frame = admin_units().old if hierarchy == "old" else admin_units().new
    return sorted(frame["province"].dropna().unique().tolist())
