"""Rows of the record as arrays: stable ids, canonical attributes, geometry codecs, the diff.

Everything here works on whole columns at once and knows nothing of databases: the store
(:mod:`hatangso.geo.store._sql`) reads and writes what these functions build.

A record is four things: its kind and stable id, the operator it belongs to (None for the
province's own rows: villages, POIs ...), its attributes and its geometry (EPSG:4326, None for
a kind without one). Attributes are kept as *canonical JSON*: the keys sorted, empty values
left out, numbers as JSON writes them, so that two states of a record are equal exactly when
their texts are.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from hatangso.geo.errors import Problem
from hatangso.geo.schema import LayerSpec

__all__ = [
    "RowSet",
    "canonical_attrs",
    "decode_geometries",
    "diff_rows",
    "encode_geometries",
    "id_column",
    "parse_attrs",
    "record_ids",
]

Mode = Literal["upsert", "replace"]

#: Id columns of the kinds whose contract has none: fiber takes an optional ``fiber_id``
#: (without it, a route's id is derived from its operator and geometry).
_EXTRA_ID_COLUMNS = {"fiber": "fiber_id"}

#: Kinds identified by a natural key of several columns rather than an id column.
_KEY_COLUMNS = {
    "declared": ("village_id", "operator", "tech"),
    "commitments": ("village_id", "operator", "tech"),
}

# GeoPackage geometry header: magic, version 0, flags (little-endian, no envelope), SRS id.
_GPKG_HEADER = struct.pack("<2sBBi", b"GP", 0, 1, 4326)
_GPKG_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def id_column(spec: LayerSpec) -> str | None:
    """Return the column holding the stable id of `spec`'s records, or None for a derived key.

    Parameters
    ----------
    spec
        The kind.

    Returns
    -------
    str or None
        ``village_id`` for villages, ``fiber_id`` for fiber; None for ``declared``, whose id is
        its key (``village_id/operator/tech``).
    """
    return spec.id_column or _EXTRA_ID_COLUMNS.get(spec.kind)


def record_ids(spec: LayerSpec, frame: pd.DataFrame) -> pd.Series:
    """Return the stable id of every row of a validated frame of `spec`, as text.

    Parameters
    ----------
    spec
        The kind.
    frame
        Validated rows (the contract's column names).

    Returns
    -------
    pandas.Series
        One id per row, same index. Fiber routes without ``fiber_id`` get ``f-`` and the first
        16 hex digits of the SHA-1 of their operator and WKB; ``declared`` rows
        ``village_id/operator/tech``.
    """
    column = id_column(spec)
    if column is not None and column in frame.columns:
        return frame[column].astype(str)
    if spec.kind in _KEY_COLUMNS:
        parts = [frame[c].astype(str) for c in _KEY_COLUMNS[spec.kind]]
        joined = parts[0]
        for part in parts[1:]:
            joined = joined + "/" + part
        return joined
    operator = frame["operator"].astype(str).to_numpy() if "operator" in frame else None
    wkb = shapely.to_wkb(np.asarray(frame.geometry.array, dtype=object))
    digests = [
        "f-" + hashlib.sha1((op or "").encode() + b"\0" + w).hexdigest()[:16]
        for op, w in zip(
            operator if operator is not None else [None] * len(frame), wkb, strict=True
        )
    ]
    return pd.Series(digests, index=frame.index, dtype=object)


def canonical_attrs(frame: pd.DataFrame) -> list[str]:
    """Return each row's attributes as canonical JSON text.

    Parameters
    ----------
    frame
        Attribute columns only (no id, operator or geometry).

    Returns
    -------
    list of str
        One JSON object per row: keys sorted, empty values (NaN, None, NA) left out, floats
        to 15 significant digits.

    Examples
    --------
    >>> canonical_attrs(pd.DataFrame({"name": ["Nà Hin", None], "population": [120.0, None]}))
    ['{"name":"Nà Hin","population":120.0}', '{}']
    """
    if len(frame) == 0:
        return []
    if frame.shape[1] == 0:
        return ["{}"] * len(frame)
    ordered = frame.set_axis([str(c) for c in frame.columns], axis=1)
    ordered = ordered[sorted(ordered.columns)]
    lines = ordered.to_json(
        orient="records",
        lines=True,
        double_precision=15,
        date_format="iso",
        force_ascii=False,
        default_handler=str,
    )
    out: list[str] = []
    for line in lines.splitlines():
        values = json.loads(line)
        out.append(
            json.dumps(
                {k: v for k, v in values.items() if v is not None},
                ensure_ascii=False,
                separators=(",", ":"),
                sort_keys=True,
            )
        )
    return out


def parse_attrs(texts: Sequence[str], index: pd.Index | None = None) -> pd.DataFrame:
    """Return the attributes of canonical JSON `texts` as a frame (a missing key is NaN).

    Parameters
    ----------
    texts
        As :func:`canonical_attrs` wrote them.
    index
        Index of the result (default a range).

    Returns
    -------
    pandas.DataFrame
        One row per text; columns in order of first appearance.
    """
    frame = pd.DataFrame.from_records([json.loads(t) for t in texts])
    if index is not None:
        frame.index = index
    return frame


def encode_geometries(geoms: npt.NDArray[np.object_], dialect: str) -> list[object]:
    """Return `geoms` (EPSG:4326) as the dialect stores them.

    Parameters
    ----------
    geoms
        Shapely geometries or None.
    dialect
        ``postgresql`` (hex EWKB text with SRID 4326, which PostGIS casts to ``geometry``) or
        ``sqlite`` (GeoPackage binary: an 8-byte header and the WKB).

    Returns
    -------
    list
        One value per geometry, None where there is none.
    """
    geoms = np.asarray(geoms, dtype=object)
    if dialect == "postgresql":
        with_srid = shapely.set_srid(geoms, 4326)
        return list(shapely.to_wkb(with_srid, hex=True, include_srid=True))
    wkb = shapely.to_wkb(geoms)
    return [None if w is None else _GPKG_HEADER + w for w in wkb]


def decode_geometries(values: Sequence[object], dialect: str) -> npt.NDArray[np.object_]:
    """Return the geometries `values` (as :func:`encode_geometries` made them) as shapely.

    Parameters
    ----------
    values
        Values of a geometry column as the database returns them.
    dialect
        ``postgresql`` or ``sqlite``.

    Returns
    -------
    numpy.ndarray
        Shapely geometries (None where the value was NULL).
    """
    if dialect == "postgresql":
        wkb: list[object] = list(values)
    else:
        # GeoPackage binary: skip the header, whose length depends on the envelope flags
        # (another writer, QGIS for one, may have stored an envelope).
        wkb = [
            None if v is None else bytes(v)[8 + _GPKG_ENVELOPE_BYTES[(bytes(v)[3] >> 1) & 7] :]  # type: ignore[call-overload]
            for v in values
        ]
    return np.asarray(shapely.from_wkb(np.asarray(wkb, dtype=object)), dtype=object)


@dataclass(frozen=True, eq=False)
class RowSet:
    """Records of one kind as parallel arrays.

    Attributes
    ----------
    ids
        Stable ids (text).
    operators
        The operator each record belongs to, None for the province's.
    attrs
        Canonical JSON attributes (:func:`canonical_attrs`).
    geoms
        Shapely geometries in EPSG:4326, None for kinds without one.
    retired
        Whether the record is retired (always False for uploaded rows).
    rows
        1-based row of each record in its upload, or 0 for stored records.
    """

    ids: npt.NDArray[np.object_]
    operators: npt.NDArray[np.object_]
    attrs: npt.NDArray[np.object_]
    geoms: npt.NDArray[np.object_]
    retired: npt.NDArray[np.bool_]
    rows: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: npt.NDArray[np.int64]) -> RowSet:
        """Return the records at positions `index`."""
        return RowSet(
            self.ids[index],
            self.operators[index],
            self.attrs[index],
            self.geoms[index],
            self.retired[index],
            self.rows[index],
        )


def _same_geometry(a: npt.NDArray[np.object_], b: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    missing_a = shapely.is_missing(a)
    missing_b = shapely.is_missing(b)
    same = np.asarray(shapely.equals_exact(a, b, tolerance=0.0), dtype=bool)
    return np.where(missing_a | missing_b, missing_a & missing_b, same)


def _same_text(a: npt.NDArray[np.object_], b: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    return np.asarray(
        pd.Series(a, dtype=object).fillna("\0").to_numpy()
        == pd.Series(b, dtype=object).fillna("\0").to_numpy(),
        dtype=bool,
    )


def changed_columns(
    before: npt.NDArray[np.object_], after: npt.NDArray[np.object_]
) -> npt.NDArray[np.object_]:
    """Return, per pair of canonical attribute texts, the names of the attributes that differ.

    Parameters
    ----------
    before, after
        Canonical JSON texts, pairwise.

    Returns
    -------
    numpy.ndarray
        Comma-separated sorted names (``""`` where nothing differs).
    """
    if len(before) == 0:
        return np.array([], dtype=object)
    old = parse_attrs(list(before))
    new = parse_attrs(list(after))
    names = sorted(set(old.columns) | set(new.columns))
    old = old.reindex(columns=names)
    new = new.reindex(columns=names)
    out = np.full(len(before), "", dtype=object)
    for name in names:
        a = old[name].astype(object).to_numpy()
        b = new[name].astype(object).to_numpy()
        differs = ~_same_text(
            pd.Series(a).map(json.dumps, na_action="ignore").to_numpy(),
            pd.Series(b).map(json.dumps, na_action="ignore").to_numpy(),
        )
        out = np.where(differs, np.where(out == "", name, out + "," + name), out)
    return out


@dataclass(frozen=True, eq=False)
class Diff:
    """What a change set does, record by record.

    Attributes
    ----------
    after
        The records added, updated or retired, in their state after the change (a retired
        record keeps its last state).
    action
        ``add``, ``update`` or ``retire`` per record of `after`.
    existed
        Whether a row of that id is already stored (retired rows count), per record.
    changed
        Comma-separated names of the attributes changed (``geometry`` and ``operator`` too).
    forbidden
        One problem per record the submitting operator may not touch.
    """

    after: RowSet
    action: npt.NDArray[np.object_]
    existed: npt.NDArray[np.bool_]
    changed: npt.NDArray[np.object_]
    forbidden: tuple[Problem, ...]


def diff_rows(
    new: RowSet,
    current: RowSet,
    *,
    mode: Mode,
    operator: str | None,
    name: str,
    id_name: str,
) -> Diff:
    """Compare uploaded records with the stored ones by stable id.

    Parameters
    ----------
    new
        The upload's records (ids unique).
    current
        Every stored record of the kind, retired ones included.
    mode
        ``upsert`` adds and updates; ``replace`` also retires the live records (of `operator`,
        when given) that `new` lacks.
    operator
        The operator the change is submitted for, None for the province.
    name
        The upload's name, for problems.
    id_name
        The id column's name, for problems.

    Returns
    -------
    Diff
        Records whose state changes, with their action.
    """
    position = pd.Index(current.ids).get_indexer(pd.Index(new.ids))
    existed = position >= 0
    safe = np.where(existed, position, 0)
    live = existed & ~current.retired[safe] if len(current) else np.zeros(len(new), dtype=bool)

    if len(current):
        old = current.take(safe)
        geometry_changed = ~_same_geometry(new.geoms, old.geoms)
        operator_changed = ~_same_text(new.operators, old.operators)
        attrs_changed = ~_same_text(new.attrs, old.attrs)
    else:
        old = new
        geometry_changed = operator_changed = attrs_changed = np.zeros(len(new), dtype=bool)
    update = live & (geometry_changed | operator_changed | attrs_changed)
    add = ~live

    changed = np.full(len(new), "", dtype=object)
    if update.any():
        idx = np.flatnonzero(update)
        names = changed_columns(old.attrs[idx], new.attrs[idx])
        for flag, label in ((operator_changed, "operator"), (geometry_changed, "geometry")):
            names = np.where(flag[idx], np.where(names == "", label, names + "," + label), names)
        changed[idx] = names

    touched = np.flatnonzero(add | update)
    forbidden: list[Problem] = []
    if operator is not None:
        foreign_row = np.asarray(
            pd.Series(new.operators[touched], dtype=object).fillna("").to_numpy() != operator,
            dtype=bool,
        )
        for i in touched[foreign_row]:
            forbidden.append(
                Problem(
                    file=name,
                    row=int(new.rows[i]),
                    column="operator",
                    message=f"{id_name} '{new.ids[i]}' names operator "
                    f"{new.operators[i] or 'none'}, but the change is submitted for {operator}",
                    fix=f"an operator changes its own rows only: submit rows of {operator}",
                )
            )
        owned_by_other = existed[touched] & np.asarray(
            pd.Series(old.operators[touched], dtype=object).fillna("").to_numpy() != operator,
            dtype=bool,
        )
        for i in touched[owned_by_other]:
            owner = old.operators[i] or "the province"
            forbidden.append(
                Problem(
                    file=name,
                    row=int(new.rows[i]),
                    column=id_name,
                    message=f"{id_name} '{new.ids[i]}' belongs to {owner}, not to {operator}",
                    fix=f"leave the row out, or ask {owner} or an official to change it",
                )
            )

    after = new.take(touched)
    action = np.where(add[touched], "add", "update").astype(object)
    existed_after = existed[touched]
    changed_after = changed[touched]

    if mode == "replace":
        in_scope = ~current.retired
        if operator is not None:
            in_scope &= np.asarray(
                pd.Series(current.operators, dtype=object).fillna("").to_numpy() == operator,
                dtype=bool,
            )
        missing = in_scope & ~pd.Index(current.ids).isin(new.ids)
        gone = np.flatnonzero(missing)
        if len(gone):
            after = _concat(after, current.take(gone))
            action = np.concatenate([action, np.full(len(gone), "retire", dtype=object)])
            existed_after = np.concatenate([existed_after, np.ones(len(gone), dtype=bool)])
            changed_after = np.concatenate([changed_after, np.full(len(gone), "", dtype=object)])
    return Diff(after, action, existed_after, changed_after, tuple(forbidden))


def _concat(a: RowSet, b: RowSet) -> RowSet:
    return RowSet(
        np.concatenate([a.ids, b.ids]),
        np.concatenate([a.operators, b.operators]),
        np.concatenate([a.attrs, b.attrs]),
        np.concatenate([a.geoms, b.geoms]),
        np.concatenate([a.retired, b.retired]),
        np.concatenate([a.rows, b.rows]),
    )


def state_dict(
    attrs: str, operator: str | None, geom: Any, *, id_name: str | None, record_id: str
) -> dict[str, Any]:
    """Return one state of a record as a JSON-ready mapping (the history's before and after).

    Parameters
    ----------
    attrs
        Canonical JSON attributes.
    operator
        The record's operator.
    geom
        Shapely geometry or None.
    id_name
        Name of the kind's id column (None for a derived key).
    record_id
        The stable id.

    Returns
    -------
    dict
        The id column, ``operator``, the attributes and ``geometry`` as a GeoJSON geometry.
    """
    state: dict[str, Any] = {} if id_name is None else {id_name: record_id}
    state["operator"] = operator
    state.update(json.loads(attrs))
    state["geometry"] = None if geom is None else json.loads(shapely.to_geojson(geom))
    return state
