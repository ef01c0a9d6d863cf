"""Tests of the one JSON writer and the one atomic writer (hatangso.geo.outputs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hatangso.geo.outputs import atomic_write, json_ready, write_geojson, write_json, write_text


def test_json_ready_turns_missing_into_null_and_numpy_into_python() -> None:
    document = {
        "nan": np.float64("nan"),
        "inf": float("inf"),
        "na": pd.NA,
        "int": np.int64(3),
        "bool": np.bool_(False),
        "array": np.array([1.5, np.nan]),
        "nested": [{"x": np.float32(0.5)}, (np.int8(1), None)],
        7: "key made text",
    }
    plain = json_ready(document)
    assert plain == {
        "nan": None,
        "inf": None,
        "na": None,
        "int": 3,
        "bool": False,
        "array": [1.5, None],
        "nested": [{"x": 0.5}, [1, None]],
        "7": "key made text",
    }
    assert type(plain["int"]) is int and type(plain["bool"]) is bool


def test_write_json_writes_null_for_nan(tmp_path: Path) -> None:
    path = write_json({"value": float("nan"), "n": np.int64(2)}, tmp_path / "a" / "doc.json")
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and text.endswith("\n")
    assert json.loads(text) == {"value": None, "n": 2}


def test_atomic_write_syncs_the_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_text("hello", tmp_path / "a.txt")
    assert len(synced) == 2  # the file before the move, the folder after it
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "hello"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = write_text("old", tmp_path / "a.txt")

    def crash(p: Path) -> None:
        p.write_text("ne", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, crash)
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_spreadsheet_safe_quotes_formulas_but_keeps_numbers() -> None:
    from hatangso.geo.outputs import spreadsheet_cell, spreadsheet_safe

    payloads = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "\tx", "\rx"]
    frame = pd.DataFrame(
        {
            "text": [*payloads, "Thôn A"],
            "number": [-1.5, -2, 0, 3, 4, 5, 6],
            "typed": pd.array([*payloads, None], dtype="string"),
        }
    )
    safe = spreadsheet_safe(frame)
    assert safe["text"].tolist() == ["'" + p for p in payloads] + ["Thôn A"]
    assert safe["typed"].tolist()[:-1] == ["'" + p for p in payloads]
    assert safe["typed"].isna().tolist()[-1]
    assert safe["number"].tolist() == frame["number"].tolist()
    assert safe["number"].dtype == frame["number"].dtype
    assert frame["text"].tolist()[0] == payloads[0], "the input frame is left as it was"
    assert spreadsheet_cell(-3) == -3 and spreadsheet_cell(None) is None
    assert spreadsheet_cell("a=b") == "a=b"


def _as_gdal_writes(frame: gpd.GeoDataFrame, folder: Path) -> tuple[Path, Path]:
    ours = write_geojson(frame, folder / "ours.geojson")
    gdal = folder / "gdal.geojson"
    frame.to_file(gdal, driver="GeoJSON", engine="pyogrio")
    return ours, gdal


def test_write_geojson_reads_back_as_gdal_writes_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 500
    towers = gpd.GeoDataFrame(
        {
            "location": np.arange(n),
            "n_sites": rng.integers(1, 4, n).astype(np.int32),
            "operators": rng.choice(["Viettel;VNPT", 'Thôn "Bản" \\ 1/2', "a\nb", "MobiFone"], n),
            "shared": rng.random(n) > 0.5,
            "site_ids": pd.array(["S1", None, "S3", "S4"] * (n // 4), dtype="string"),
            "share": np.where(rng.random(n) > 0.9, np.nan, rng.random(n)),
        },
        geometry=shapely.points(rng.uniform(102, 110, n), rng.uniform(8, 24, n)),
        crs=4326,
    )
    ours, gdal = _as_gdal_writes(towers, tmp_path)
    document = json.loads(ours.read_text(encoding="utf-8"))  # valid JSON, one collection
    assert document["type"] == "FeatureCollection"
    assert document["name"] == "ours"
    assert len(document["features"]) == n
    assert document["features"][0]["geometry"]["type"] == "Point"
    back, expected = gpd.read_file(ours), gpd.read_file(gdal)
    pd.testing.assert_frame_equal(
        back.drop(columns="geometry"), expected.drop(columns="geometry"), check_exact=True
    )
    # Both to 15 decimals; GDAL also trims what looks like round-off (…0000x, …9999x).
    assert back.geometry.geom_equals_exact(expected.geometry, tolerance=1e-13).all()
    assert back.geometry.geom_equals_exact(towers.geometry, tolerance=1e-15).all()


def test_write_geojson_polygons_and_a_metric_crs(tmp_path: Path) -> None:
    zones = gpd.GeoDataFrame(
        {"poi_id": ["IP-1", "IP-2", "IP-3"], "covered_iot": [True, False, True]},
        geometry=[
            shapely.box(580_000, 2_300_000, 581_000, 2_301_500),
            shapely.Point(590_000, 2_310_000).buffer(400),
            None,
        ],
        crs=32648,
    )
    ours, gdal = _as_gdal_writes(zones.to_crs(4326), tmp_path)
    write_geojson(zones, ours)  # written in EPSG:4326 all the same
    back, expected = gpd.read_file(ours), gpd.read_file(gdal)
    assert back.crs == "EPSG:4326"
    pd.testing.assert_frame_equal(back.drop(columns="geometry"), expected.drop(columns="geometry"))
    assert back.geometry.geom_equals_exact(expected.geometry, tolerance=1e-12).iloc[:2].all()
    assert back.geometry.iloc[2] is None


def test_write_geojson_of_no_features(tmp_path: Path) -> None:
    empty = gpd.GeoDataFrame({"location": []}, geometry=[], crs=4326)
    path = write_geojson(empty, tmp_path / "towers.geojson")
    assert json.loads(path.read_text(encoding="utf-8"))["features"] == []
    assert len(gpd.read_file(path)) == 0


def test_write_geojson_leaves_a_date_column_to_gdal_and_keeps_missing_integers(
    tmp_path: Path,
) -> None:
    points = shapely.points([(105.8, 21.0), (105.9, 21.1)])
    dated = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "since": pd.to_datetime(["2024-05-01", "2025-01-31"])},
        geometry=points,
        crs=4326,
    )
    ours, gdal = _as_gdal_writes(dated, tmp_path)
    # GDAL's own writer, byte for byte but for the collection's name (the file's stem)
    ours_text = ours.read_text(encoding="utf-8").replace('"name": "ours"', '"name": "gdal"')
    assert ours_text == gdal.read_text(encoding="utf-8")
    counted = gpd.GeoDataFrame(
        {"n_sites": pd.array([3, None], dtype="Int64"), "ok": pd.array([True, None])},
        geometry=points,
        crs=4326,
    )
    document = json.loads(write_geojson(counted, tmp_path / "n.geojson").read_text("utf-8"))
    properties = [f["properties"] for f in document["features"]]
    assert properties == [{"n_sites": 3, "ok": True}, {"n_sites": None, "ok": None}]


def test_write_geojson_floats_keep_their_type_and_every_value(tmp_path: Path) -> None:
    """Integral floats stay real (``100.0``), NaN and infinities are null, values are exact."""
    values = [100.0, -0.0, 1e22, 2.5e15, 1 / 3, 5e-324, np.nan, np.inf, 106.3249741778596]
    n = len(values)
    frame = gpd.GeoDataFrame(
        {
            "share": values,
            "nothing": pd.array([None] * n, dtype="string"),
            "note": ["tab\there", "nul\x00", "é \u2028", "", "a", "b", "c", "d", "e"],
        },
        geometry=shapely.points(np.linspace(102, 110, n), np.linspace(8, 24, n)),
        crs=4326,
    )
    path = write_geojson(frame, tmp_path / "f.geojson")
    document = json.loads(path.read_text(encoding="utf-8"))
    shares = [f["properties"]["share"] for f in document["features"]]
    assert shares[:6] == values[:6] and shares[6:8] == [None, None] and shares[8] == values[8]
    assert all(isinstance(v, float) for v in shares[:6])  # 100.0, not the integer 100
    assert [f["properties"]["nothing"] for f in document["features"]] == [None] * n
    assert [f["properties"]["note"] for f in document["features"]] == frame["note"].tolist()
    back = gpd.read_file(path)
    assert back["share"].dtype == np.float64
    xy = shapely.get_coordinates(back.geometry.to_numpy())
    assert (xy == shapely.get_coordinates(frame.geometry.to_numpy())).all()  # exact
