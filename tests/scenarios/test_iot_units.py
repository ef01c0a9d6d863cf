"""``key_area_iot_coverage`` per admin unit: a zone counts in the unit of the village holding it.

Three square villages of 1 km in one district, 100 km apart from north to south (UTM 48N):
T1 (Xã Một) with a site offering NB-IoT at its centre, T2 (Xã Hai) and T3 (Xã Ba) with no
site near.
Zones, by hand: KCN-1, a park of 200 m inside T1, all within the site's reach (covered);
KCN-2, a park inside T2, 100 km from the site (not covered); VSX-1, a production zone given as
a point 3 km east of T2, in no village: its nearest village is T2 (not covered). So Xã Một
1 / 1, Xã Hai 0 / 2, Xã Ba none (it has no zone), the district 1 / 3, as for the province.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from hatangso.coverage.iot import IotZones, zone_villages

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0
STEP = 100_000.0


def _inputs(folder: Path) -> list[str]:
    gpd.GeoDataFrame(
        {
            "village_id": ["T1", "T2", "T3"],
            "name": ["Nà Mằm", "Khuổi Tích", "Bản Chang"],
            "district": "Huyện A",
            "commune": ["Xã Một", "Xã Hai", "Xã Ba"],
        },
        geometry=[
            shapely.box(X0, Y0 - k * STEP, X0 + 1000, Y0 - k * STEP + 1000) for k in range(3)
        ],
        crs=UTM,
    ).to_crs(4326).to_file(folder / "villages.gpkg")
    gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": ["Viettel"], "tech": ["4G;NB-IoT"]},
        geometry=[shapely.Point(X0 + 500, Y0 + 500)],
        crs=UTM,
    ).to_crs(4326).to_file(folder / "sites.gpkg")
    gpd.GeoDataFrame(
        {
            "poi_id": ["KCN-1", "KCN-2", "VSX-1"],
            "kind": ["industrial_park", "industrial_park", "production_zone"],
        },
        geometry=[
            shapely.box(X0 + 400, Y0 + 400, X0 + 600, Y0 + 600),
            shapely.box(X0 + 400, Y0 - STEP + 400, X0 + 600, Y0 - STEP + 600),
            shapely.Point(X0 + 4000, Y0 - STEP + 500),
        ],
        crs=UTM,
    ).to_crs(4326).to_file(folder / "pois.geojson", driver="GeoJSON")
    return [
        "--villages",
        str(folder / "villages.gpkg"),
        "--sites",
        str(folder / "sites.gpkg"),
        "--pois",
        str(folder / "pois.geojson"),
    ]


def _iot(unit: dict[str, Any]) -> tuple[int, int] | None:
    for indicator in unit["indicators"]:
        if indicator["code"] == "key_area_iot_coverage":
            return indicator["numerator"], indicator["denominator"]
    return None


def test_each_zone_counts_in_the_unit_of_its_village(
    tmp_path: Path, run_cli: Callable[..., tuple[Any, str, str]]
) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli("coverage", *_inputs(tmp_path), "--out", str(out))
    assert code == 0, err
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    covered = {z["poi_id"]: z["covered"] for z in kpis["iot_zones"]["zones"]}
    assert covered == {"KCN-1": True, "KCN-2": False, "VSX-1": False}
    communes = {u["unit"]: _iot(u) for u in kpis["by_unit"]["commune"]}
    assert communes == {
        "Huyện A / Xã Ba": None,
        "Huyện A / Xã Hai": (0, 2),
        "Huyện A / Xã Một": (1, 1),
    }
    assert [_iot(u) for u in kpis["by_unit"]["district"]] == [(1, 3)]
    overall = {i["code"]: i for i in kpis["indicators"]}["key_area_iot_coverage"]
    assert (overall["numerator"], overall["denominator"]) == (1, 3)


def test_zone_villages_by_polygon_then_nearest() -> None:
    utm = pyproj.CRS(f"EPSG:{UTM}")
    squares = [shapely.box(k * 1000.0, 0, (k + 1) * 1000.0, 1000) for k in range(2)]
    villages = gpd.GeoDataFrame(geometry=squares, crs=utm).to_crs(4326)
    zones = gpd.GeoDataFrame(
        geometry=[
            shapely.box(1200, 200, 1400, 400),  # inside the second
            shapely.Point(-3000, 500),  # west of the first
            shapely.Point(2600, 500),  # east of the second
        ],
        crs=utm,
    ).to_crs(4326)
    assert zone_villages(zones, villages, utm).tolist() == [1, 0, 1]
    # Point villages: the nearest one (its Voronoi cell).
    points = gpd.GeoDataFrame(geometry=shapely.centroid(np.asarray(squares)), crs=utm)
    assert zone_villages(zones, points.to_crs(4326), utm).tolist() == [1, 0, 1]
    assert zone_villages(zones, villages.iloc[:0], utm).tolist() == [-1, -1, -1]
    found = IotZones(zones.assign(covered_iot=[True, False, True]), 0.5).unit_items(villages, utm)
    assert found.village.tolist() == [1, 0, 1] and found.counted.tolist() == [True, False, True]
