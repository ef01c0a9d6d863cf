"""Polygon POIs and the IoT zones through `hatangso coverage`: kpis.json, files and the map."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from hatangso.scenarios.maps import MapLayers, find_outside_loads, village_map

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


@pytest.fixture
def inputs(write_layer) -> dict[str, Path]:
    villages = write_layer(
        "villages.gpkg",
        {"village_id": ["T1"], "name": ["Nà Mằm"]},
        [shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)],
        crs=UTM,
    )
    sites = write_layer(
        "sites.gpkg",
        {"site_id": ["S1"], "operator": ["Viettel"], "tech": ["4G;5G"]},
        [shapely.Point(X0 + 500, Y0 + 500)],
        crs=UTM,
    )
    # An industrial park outline 1 km east (its representative point within 5G's 2 km), a
    # production zone given as a point, a district centre as a point; kinds in Vietnamese.
    pois = write_layer(
        "pois.geojson",
        {
            "Mã": ["KCN-1", "VSX-1", "TT-1"],
            "Loại": ["Khu công nghiệp", "Vùng sản xuất tập trung", "Trung tâm huyện"],
            "Tên": ["KCN <b>Thanh Bình</b>", "Vùng chè", "Huyện lỵ"],
        },
        [
            shapely.box(X0 + 1400, Y0 + 400, X0 + 1600, Y0 + 600),
            shapely.Point(X0 + 3000, Y0 + 500),
            shapely.Point(X0 + 900, Y0 + 500),
        ],
        crs=UTM,
        driver="GeoJSON",
    )
    return {"villages": villages, "sites": sites, "pois": pois}


def test_polygon_pois_and_iot_zones_end_to_end(inputs, tmp_path, run_cli) -> None:
    out = tmp_path / "out"
    code, _, stderr = run_cli(
        "coverage",
        "--villages",
        str(inputs["villages"]),
        "--sites",
        str(inputs["sites"]),
        "--pois",
        str(inputs["pois"]),
        "--out",
        str(out),
    )
    assert code == 0, stderr
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["inputs"]["pois"]["rejected"] == 0
    by_code = {i["code"]: i for i in kpis["indicators"]}
    assert (
        by_code["key_area_5g_coverage"]["numerator"],
        by_code["key_area_5g_coverage"]["denominator"],
    ) == (2, 2)
    # The site offers 4G and 5G only: within their reach, yet no zone has IoT.
    iot = by_code["key_area_iot_coverage"]
    assert (iot["numerator"], iot["denominator"], iot["value"]) == (0, 2, 0.0)
    assert iot["label_vi"].startswith("Tỷ lệ khu công nghiệp, vùng sản xuất")
    block = kpis["iot_zones"]
    assert block["area_share"] == 0.5 and block["techs"] == ["NB-IoT", "LTE-M"]
    assert [(z["poi_id"], z["kind"], z["geometry"], z["covered"]) for z in block["zones"]] == [
        ("KCN-1", "industrial_park", "polygon", False),
        ("VSX-1", "production_zone", "point", False),
    ]
    zones = gpd.read_file(out / "iot_zones.geojson")
    assert zones["poi_id"].tolist() == ["KCN-1", "VSX-1"]
    assert zones.geom_type.tolist() == ["Polygon", "Point"]
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "Khu công nghiệp, vùng sản xuất chưa có IoT" in page
    assert "<b>Thanh Bình</b>" not in page
    assert find_outside_loads(page) == []


def test_map_colours_zones_covered_or_not() -> None:
    villages = gpd.GeoDataFrame(
        {"village_id": ["T1"], "name": ["Thôn"], "covered_mobile": [True]},
        geometry=[shapely.box(105.80, 22.10, 105.81, 22.11)],
        crs=4326,
    )
    zones = gpd.GeoDataFrame(
        {
            "poi_id": ["IP-1", "PZ-1"],
            "kind": ["industrial_park", "production_zone"],
            "name": ["KCN", "Vùng chè"],
            "geometry_type": ["polygon", "point"],
            "iot_share": [0.52, 0.0],
            "covered_iot": [True, False],
        },
        geometry=[shapely.box(105.82, 22.10, 105.83, 22.11), shapely.Point(105.85, 22.12)],
        crs=4326,
    )
    page = village_map(MapLayers(villages=villages, iot_zones=zones), title="t")
    assert "Khu công nghiệp, vùng sản xuất có IoT" in page
    assert "Khu công nghiệp, vùng sản xuất chưa có IoT" in page
    assert '"iot_share_pct": 52.0' in page
    assert find_outside_loads(page) == []
