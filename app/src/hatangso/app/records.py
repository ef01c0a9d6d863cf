"""The record over HTTP: kinds, ``as_of`` and ``bbox`` parameters, features, diffs, history.

What the record's endpoints (:mod:`hatangso.app.routes.records`) and the uploads
(:mod:`hatangso.app.routes.uploads`) share: which kinds the record keeps, how a request's
``?as_of=`` and ``?bbox=`` are read, how records become GeoJSON features, how a change set is
shown as a diff (the answer of ``?dry_run=true``) and a record's history as
``[{time, user, action, before, after}]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from hatangso.app.workspace import serialise_features
from hatangso.geo.errors import InputError, NotFoundError, Problem
from hatangso.geo.schema import RECORD_KINDS, LayerSpec, spec_for
from hatangso.geo.store import ChangeSet, HistoryEntry, Record, record_ids

__all__ = [
    "STORE_KINDS",
    "change_document",
    "history_document",
    "parse_as_of",
    "parse_bbox",
    "record_feature",
    "record_features",
    "record_spec",
    "reject_problems",
]

#: The kinds the record keeps, as the endpoints spell them (measurement samples are read from
#: their files, not kept).
STORE_KINDS: tuple[str, ...] = tuple(k for k in RECORD_KINDS if not spec_for(k).streamed)

_FEATURE_HEAD = '{"type":"Feature",'


def record_spec(kind: str) -> LayerSpec:
    """Return the spec of record kind `kind` (``access_points`` is ``access-points``).

    Raises
    ------
    NotFoundError
        If the record keeps no such kind; the message lists the kinds it keeps.
    """
    key = kind.replace("_", "-")
    if key not in STORE_KINDS:
        raise NotFoundError(
            f"the record keeps no kind '{kind}'. Fix: use one of {', '.join(STORE_KINDS)}"
        )
    return spec_for(key)


def parse_as_of(text: str | None) -> date | None:
    """Return the day of ``?as_of=YYYY-MM-DD`` (None when absent).

    Raises
    ------
    InputError
        If `text` is not a date.

    Examples
    --------
    >>> parse_as_of("2025-12-31")
    datetime.date(2025, 12, 31)
    """
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            Problem(
                file="as_of",
                message=f"{text!r} is not a date",
                fix="write the day as YYYY-MM-DD, e.g. ?as_of=2025-12-31",
            )
        ) from None


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """Return ``?bbox=min_lon,min_lat,max_lon,max_lat`` as four numbers (None when absent).

    Raises
    ------
    InputError
        If it is not four finite numbers with the minimums below the maximums.

    Examples
    --------
    >>> parse_bbox("105.5,21.0,106,21.5")
    (105.5, 21.0, 106.0, 21.5)
    """
    if text is None or not text.strip():
        return None
    problem = Problem(
        file="bbox",
        message=f"{text!r} is not a box",
        fix="give four numbers in degrees: ?bbox=min_lon,min_lat,max_lon,max_lat",
    )
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(problem) from None
    if len(values) != 4 or not all(np.isfinite(values)):
        raise InputError(problem)
    x0, y0, x1, y1 = values
    if x0 > x1 or y0 > y1:
        raise InputError(problem)
    return (x0, y0, x1, y1)


def _with_ids(features: npt.NDArray[np.object_], ids: Sequence[str]) -> npt.NDArray[np.object_]:
    """Give each serialised feature its record's id (``"id"``, after ``"type"``)."""
    head = len(_FEATURE_HEAD)
    return np.array(
        [
            f'{_FEATURE_HEAD}"id":{json.dumps(str(i), ensure_ascii=False)},{f[head:]}'
            for f, i in zip(features, ids, strict=True)
        ],
        dtype=object,
    )


def record_features(
    spec: LayerSpec, frame: gpd.GeoDataFrame
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Return the records of `frame` (as the store reads them) as GeoJSON features, and ids.

    Parameters
    ----------
    spec
        Their kind.
    frame
        :meth:`~hatangso.geo.store.SqlStore.read`'s answer.

    Returns
    -------
    tuple of numpy.ndarray
        One compact RFC 7946 Feature (JSON text) per record, its ``id`` the record's stable
        id and its properties every column; and the ids.
    """
    ids = record_ids(spec, frame).to_numpy(dtype=object) if len(frame) else np.empty(0, object)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    features = serialise_features(frame, columns=columns, id_column=None)
    return _with_ids(features, list(ids)), ids


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def record_feature(record: Record, spec: LayerSpec) -> dict[str, Any]:
    """Return one record as a GeoJSON Feature (its version and retirement as properties)."""
    from hatangso.geo.store import id_column

    properties: dict[str, Any] = {}
    name = id_column(spec)
    if name is not None:
        properties[name] = record.record_id
    if "operator" in spec.required or record.operator is not None:
        properties["operator"] = record.operator
    properties.update({str(k): _plain(v) for k, v in record.attributes.items()})
    properties["version"] = record.version
    properties["retired"] = record.retired
    geometry = None if record.geometry is None else json.loads(shapely.to_geojson(record.geometry))
    return {
        "type": "Feature",
        "id": record.record_id,
        "properties": properties,
        "geometry": geometry,
    }


def history_document(entries: Sequence[HistoryEntry]) -> list[dict[str, Any]]:
    """Return a record's history as ``[{time, user, action, before, after, version}]``.

    ``time`` is ISO 8601 with its offset (UTC); ``before`` is null for the first addition.
    """
    return [
        {
            "time": entry.time.isoformat(),
            "user": entry.actor,
            "action": entry.action,
            "before": entry.before,
            "after": entry.after,
            "version": entry.version,
        }
        for entry in entries
    ]


def reject_problems(rejects: pd.DataFrame, name: str) -> list[Problem]:
    """Return the rows the validation rejected as problems (file, row, message, fix)."""
    problems = []
    for row, reason in zip(rejects["row"].tolist(), rejects["reason"].tolist(), strict=True):
        message, _, fix = str(reason).partition(". Fix: ")
        problems.append(
            Problem(
                file=name,
                row=None if row is None or row != row else int(row),
                message=message,
                fix=fix or "correct the row and upload the file again",
            )
        )
    return problems


def _geojson(geom: Any) -> Any:
    if geom is None or shapely.is_missing(geom):
        return None
    return json.loads(shapely.to_geojson(geom))


def change_document(
    changeset: ChangeSet,
    before: gpd.GeoDataFrame,
    *,
    limit: int,
    problems: Sequence[Problem] = (),
) -> dict[str, Any]:
    """Return a change set as the diff a client reads: counts and one row per record.

    Parameters
    ----------
    changeset
        The change (computed, applied or not).
    before
        The live records of its kind before it (:meth:`~hatangso.geo.store.SqlStore.read`).
    limit
        Most rows listed (``truncated`` says when there were more).
    problems
        Every fault that refuses the change (the rows the validation rejected, the rows the
        submitter may not change).

    Returns
    -------
    dict
        ``counts`` (``add``, ``update``, ``retire``), ``mode``, ``base_version``, ``ok``,
        ``problems`` and ``rows``: ``{id, action, row, changed, before, after}`` where an
        update lists only its changed columns before and after, an addition its new
        attributes, a retirement its last attributes.
    """
    from hatangso.geo.store import id_column

    spec = spec_for(changeset.kind)
    rows = changeset.rows.iloc[:limit]
    known: Mapping[str, int] = {}
    if len(before):
        known = {str(i): n for n, i in enumerate(record_ids(spec, before).tolist())}
    id_name = id_column(spec)
    geometry = before.geometry.name if len(before) else "geometry"
    listed: list[dict[str, Any]] = []
    for record_id, action, operator, attrs, changed, row, geom in zip(
        rows["record_id"].tolist(),
        rows["action"].tolist(),
        rows["operator"].tolist(),
        rows["attrs"].tolist(),
        rows["changed"].tolist(),
        rows["row"].tolist(),
        np.asarray(rows.geometry.array, dtype=object),
        strict=True,
    ):
        new: dict[str, Any] = json.loads(attrs)
        if "operator" in spec.required or operator is not None:
            new = {"operator": _plain(operator), **new}
        entry: dict[str, Any] = {
            "id": record_id,
            "action": action,
            "row": int(row) or None,
            "changed": [c for c in str(changed).split(",") if c],
            "before": None,
            "after": None,
        }
        old_at = known.get(str(record_id))
        old: dict[str, Any] = {}
        if old_at is not None:
            stored = before.iloc[old_at]
            old = {
                str(k): _plain(v)
                for k, v in stored.items()
                if k not in (geometry, id_name) and not (np.ndim(v) == 0 and pd.isna(v))
            }
            old["geometry"] = _geojson(stored[geometry])
        if action == "add":
            entry["after"] = new
        elif action == "retire":
            entry["before"] = old or new
        else:
            new["geometry"] = _geojson(geom)
            entry["before"] = {c: old.get(c) for c in entry["changed"]}
            entry["after"] = {c: new.get(c) for c in entry["changed"]}
        listed.append(entry)
    shown = [*problems, *changeset.forbidden, *changeset.problems]
    return {
        "kind": changeset.kind,
        "mode": changeset.mode,
        "base_version": changeset.base_version,
        "counts": changeset.counts(),
        "ok": not shown,
        "problems": [
            {"file": p.file, "row": p.row, "column": p.column, "message": p.message, "fix": p.fix}
            for p in shown
        ],
        "rows": listed,
        "truncated": len(changeset.rows) > limit,
    }
