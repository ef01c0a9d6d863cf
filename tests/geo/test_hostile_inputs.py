"""Hostile and malformed input files: a clear row or file fault, never a crash, hang or blow-up."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hatangso.cli import main
from hatangso.geo import io, limits
from hatangso.geo.validate import _keep_family

HEADER = "village_id,name,lon,lat,population\n"


def run_validate(monkeypatch, capsys, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", ["hatangso", "validate", "villages", *args])
    with pytest.raises(SystemExit) as info:
        main()
        sys.exit(0)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    assert "internal error" not in text
    return int(info.value.code or 0), " ".join(text.split())


def polygon_features(*rings: list[list[list[float]]]) -> str:
    features = [
        {
            "type": "Feature",
            "properties": {"village_id": f"T{i + 1}", "name": "Nà Mằm", "population": 10},
            "geometry": {"type": "Polygon", "coordinates": ring},
        }
        for i, ring in enumerate(rings)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features})


def test_empty_zip_is_a_file_fault(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "thon.zip").write_bytes(b"")
    code, text = run_validate(monkeypatch, capsys, str(tmp_path / "thon.zip"))
    assert code == 2
    assert "thon.zip: is not a readable zip archive" in text


def test_zip_without_members_is_a_file_fault(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    zipfile.ZipFile(tmp_path / "thon.zip", "w").close()
    code, text = run_validate(monkeypatch, capsys, str(tmp_path / "thon.zip"))
    assert code == 2
    assert "must hold exactly one shapefile" in text


def test_infinite_longitude_is_a_row_fault(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "thon.csv"
    path.write_text(HEADER + "T1,A,inf,21.0,100\nT2,B,105.5,21.0,100\nT3,C,105.5,-inf,1\n")
    code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 0
    assert "read 3, used 1, rejected 2" in text
    assert "an infinite lon in 'lon'" in text and "an infinite lat in 'lat'" in text


def test_degenerate_polygon_before_a_repairable_one(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    flat = [[[105.5, 21.0], [105.6, 21.0], [105.7, 21.0], [105.5, 21.0]]]  # a line
    # A square with a spike: make_valid gives a polygon and a line.
    spike = [
        [
            *([105.5, 21.0], [105.7, 21.0], [105.7, 21.1], [105.8, 21.1], [105.7, 21.1]),
            *([105.7, 21.2], [105.5, 21.2], [105.5, 21.0]),
        ]
    ]
    path = tmp_path / "thon.geojson"
    path.write_text(polygon_features(flat, spike))
    code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 0
    assert "read 2, used 1, rejected 1, repaired 1" in text
    assert "unrepairable geometry" in text


def test_keep_family_leaves_a_geometry_without_parts_empty() -> None:
    geoms = np.array(
        [
            shapely.from_wkt("LINESTRING (0 0, 1 1)"),
            shapely.from_wkt("GEOMETRYCOLLECTION (POLYGON ((0 0, 1 0, 1 1, 0 0)), POINT (5 5))"),
        ],
        dtype=object,
    )
    kept = _keep_family(geoms, "polygon")
    assert shapely.is_empty(kept[0])
    assert shapely.get_type_id(kept[1]) == 3


def test_unclosed_ring_refuses_its_row_only(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    closed = [[[105.5, 21.0], [105.6, 21.0], [105.6, 21.1], [105.5, 21.1], [105.5, 21.0]]]
    unclosed = [[[105.5, 21.0], [105.6, 21.0], [105.6, 21.1], [105.5, 21.1]]]
    path = tmp_path / "thon.geojson"
    path.write_text(polygon_features(closed, unclosed))
    with pytest.warns(RuntimeWarning):  # GDAL's own note on the ring
        code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 0
    assert "read 2, used 1, rejected 1" in text
    assert "unclosed ring" in text
    assert ".shx" not in text


def test_zip_with_two_tables_is_a_file_fault(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "thon.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("thon.csv", HEADER + "T1,A,105.5,21.0,100\n")
        archive.writestr("readme.txt", "exported from QGIS")
    code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 2
    assert "holds 2 tables (thon.csv, readme.txt)" in text
    assert "zip one table per archive" in text


@pytest.mark.parametrize("crs", ["EPSG:999999", "foo"])
def test_bogus_crs_is_refused(monkeypatch, capsys, tmp_path: Path, crs: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "thon.csv"
    path.write_text(HEADER + "T1,A,105.5,21.0,100\n")
    code, text = run_validate(monkeypatch, capsys, str(path), "--crs", crs)
    assert code == 2
    assert f"--crs {crs}" in text


def test_too_many_columns_is_a_file_fault(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    n = limits.MAX_COLUMNS + 1
    path = tmp_path / "thon.csv"
    path.write_text(",".join(f"c{i}" for i in range(n)) + "\n" + ",".join(["1"] * n) + "\n")
    code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 2
    assert f"the header has {n} columns, more than the limit of {limits.MAX_COLUMNS}" in text


def test_long_column_name_is_a_file_fault(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "thon.csv"
    path.write_text("village_id," + "x" * 300 + "\nT1,1\n")
    code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 2
    assert (
        f"column 2's name has 300 characters, more than the limit of {limits.MAX_COLUMN_NAME_CHARS}"
        in text
    )


def test_repeated_header_names_are_made_unique_in_linear_time() -> None:
    start = time.perf_counter()
    names = io._unique_names(["a"] * 20_000 + ["a.1"])
    assert time.perf_counter() - start < 2.0
    assert len(set(names)) == len(names) == 20_001
    assert names[:3] == ["a", "a.2", "a.3"]  # 'a.1' is a real column further on
    assert names[-1] == "a.1"


def test_repeated_header_names_read_like_pandas(tmp_path: Path) -> None:
    path = tmp_path / "thon.csv"
    path.write_text("id,id,,name,id\n1,2,3,x,4\n")
    raw = io.read_table(path)
    assert raw.frame.columns.tolist() == ["id", "id.1", "Unnamed: 2", "name", "id.2"]
    assert raw.frame.iloc[0].tolist() == ["1", "2", "3", "x", "4"]


def _bomb_xlsx(path: Path) -> None:
    pd.DataFrame({"village_id": ["T1"], "lon": [105.5], "lat": [21.0]}).to_excel(path, index=False)
    # 8 MB of blanks deflate to a few kB: a ratio far above the limit.
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet9.xml", b" " * (8 << 20))


def test_xlsx_bomb_is_refused(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "thon.xlsx"
    _bomb_xlsx(path)
    code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 2
    assert "member 'xl/worksheets/sheet9.xml' is compressed" in text
    assert "decompression bomb" in text


def test_xlsx_bomb_inside_a_zip_is_refused(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inner = tmp_path / "thon.xlsx"
    _bomb_xlsx(inner)
    path = tmp_path / "thon.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.write(inner, "thon.xlsx")
    code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 2
    assert "decompression bomb" in text


def test_oversized_zip_member_is_refused(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(limits, "MAX_MEMBER_BYTES", 100)
    path = tmp_path / "thon.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("thon.csv", HEADER + "T1,A,105.5,21.0,100\n" * 5)
    code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 2
    assert "more than the limit of 100" in text


def _geopackage(path: Path) -> None:
    gpd.GeoDataFrame(
        {"village_id": ["T1"], "name": ["A"], "population": [10.0]},
        geometry=[shapely.box(105.5, 21.0, 105.6, 21.1)],
        crs=4326,
    ).to_file(path, layer="thon")


def test_geopackage_with_a_recursive_view_is_refused(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "thon.gpkg"
    _geopackage(path)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE VIEW endless AS WITH RECURSIVE r(n) AS "
            "(SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n AS fid, NULL AS geom FROM r"
        )
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
            "VALUES ('endless', 'features', 'endless', 4326)"
        )
    code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 2
    assert "thon.gpkg: the GeoPackage holds SQL code (view 'endless')" in text


def test_geopackage_with_a_trigger_is_refused(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "thon.gpkg"
    _geopackage(path)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TRIGGER sneaky AFTER UPDATE ON thon BEGIN SELECT 1; END")
    code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 2
    assert "trigger 'sneaky'" in text


def test_plain_geopackage_is_read(monkeypatch, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "thon.gpkg"
    _geopackage(path)
    code, text = run_validate(monkeypatch, capsys, str(path))
    assert code == 0
    assert "read 1, used 1" in text
