"""Which operators serve a village under the area and population rules, worked out by hand.

Every site is an omni rural 4G mast of reach ``r`` (5 km in the radius table; the hata link
budget's reach under hata), and every village a square of side ``L = r / 0.7``, so that in
units of ``L`` the reach is 0.7 and the shares below hold under both models:

- a disc on a corner covers a quarter of itself: ``π 0.7² / 4 = 0.384845``;
- two discs on the two ends of one side overlap in a lens (centres 1 apart) of which half lies
  in the square: ``lens = 2 · 0.49 · acos(1 / 1.4) - 0.5 · sqrt(1.96 - 1) = 0.269791``, so
  together they cover ``2 · 0.384845 - 0.269791 / 2 = 0.634794``;
- a disc on the centre covers all but four corners: each side cuts off a segment at distance
  0.5, ``0.49 · acos(0.5 / 0.7) - 0.5 · sqrt(0.49 - 0.25) = 0.134896``, and the segments do
  not meet (0.7 < half the diagonal, 0.7071), so it covers ``π 0.49 - 4 · 0.134896 =
  0.999797``;
- with a corner disc added, that corner (the centre's circle meets its sides 0.0101 from it)
  is covered too: three corners of
  ``(1 - 0.999797) / 4`` each stay out, ``1 - 0.75 · (1 - 0.999797) = 0.999848``.

Villages, 10 L apart so that no disc reaches another one:

- ``A``: Viettel on the bottom-left corner, VNPT on the bottom-right. Each alone covers 0.385,
  under the 0.5 needed; together 0.635. Covered, and served by neither operator alone.
- ``B``: MobiFone alone, on the centre: 0.999797, served by MobiFone.
- ``C``: Viettel on the centre, VNPT on the bottom-left corner: 0.999797 for Viettel alone,
  0.385 for VNPT alone, 0.999848 together. Served by Viettel.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from rasterio.crs import CRS

from hatangso.coverage import mobile, radio

UTM48 = CRS.from_epsg(32648)
X0, Y0 = 500_000.0, 2_300_000.0

QUARTER = math.pi * 0.49 / 4
LENS = 2 * 0.49 * math.acos(1 / 1.4) - 0.5 * math.sqrt(1.96 - 1)
SEGMENT = 0.49 * math.acos(0.5 / 0.7) - 0.5 * math.sqrt(0.49 - 0.25)
CENTRE = math.pi * 0.49 - 4 * SEGMENT
CENTRE_AND_CORNER = 1 - 0.75 * (1 - CENTRE)
TOGETHER = 2 * QUARTER - LENS / 2

#: (village, operator, x, y) in units of L from the village's bottom-left corner.
SITES = [
    (0, "Viettel", 0.0, 0.0),
    (0, "VNPT", 1.0, 0.0),
    (1, "MobiFone", 0.5, 0.5),
    (2, "Viettel", 0.5, 0.5),
    (2, "VNPT", 0.0, 0.0),
]


def test_the_shares_by_hand() -> None:
    assert QUARTER == pytest.approx(0.384845, abs=1e-6)
    assert LENS == pytest.approx(0.269791, abs=1e-6)
    assert TOGETHER == pytest.approx(0.634794, abs=1e-6)
    assert SEGMENT == pytest.approx(0.134896, abs=1e-6)
    assert CENTRE == pytest.approx(0.999797, abs=1e-6)
    assert CENTRE_AND_CORNER == pytest.approx(0.999848, abs=1e-6)


def _reach_m(model: str) -> float:
    one = _sites_frame(1.0)
    return float(_table(one, model).reach_m["4G"][0])


def _corner(village: int, side_m: float) -> tuple[float, float]:
    return X0 + 10 * side_m * village, Y0


def _sites_frame(side_m: float) -> gpd.GeoDataFrame:
    xy = [
        (_corner(v, side_m)[0] + x * side_m, _corner(v, side_m)[1] + y * side_m)
        for v, _, x, y in SITES
    ]
    return gpd.GeoDataFrame(
        {
            "site_id": [f"S{i}" for i in range(len(SITES))],
            "operator": [op for _, op, _, _ in SITES],
            "tech": ["4G"] * len(SITES),
            "height_m": [30.0] * len(SITES),
            "env": ["rural"] * len(SITES),
        },
        geometry=shapely.points(xy),
        crs=UTM48,
    )


def _table(sites: gpd.GeoDataFrame, model: str) -> mobile.SiteTable:
    return mobile.site_table(
        sites, model=model, radius_m=radio.DEFAULT_RADIUS_M, threshold_dbm=-110.0
    )


def _layout(model: str) -> tuple[gpd.GeoDataFrame, mobile.SiteTable, float]:
    side_m = _reach_m(model) / 0.7
    squares = [
        shapely.box(x, y, x + side_m, y + side_m) for x, y in (_corner(v, side_m) for v in range(3))
    ]
    villages = gpd.GeoDataFrame({"village_id": ["A", "B", "C"]}, geometry=squares, crs=UTM48)
    sites = _table(_sites_frame(side_m), model)
    assert np.allclose(sites.reach_m["4G"], 0.7 * side_m)
    return villages, sites, side_m


@pytest.mark.parametrize("model", ["radius", "hata"])
def test_each_operator_s_share_from_its_own_discs(model: str) -> None:
    villages, sites, _ = _layout(model)
    geoms = np.asarray(villages.geometry.array, dtype=object)
    operators, group = np.unique(sites.operator.astype(str), return_inverse=True)
    assert operators.tolist() == ["MobiFone", "VNPT", "Viettel"]
    share, by_operator = mobile._polygon_shares_by_group(
        geoms,
        np.ones(3, dtype=bool),
        sites,
        "4G",
        group=group,
        n_groups=3,
        min_share=0.5,
    )
    assert share == pytest.approx([TOGETHER, CENTRE, CENTRE_AND_CORNER], rel=1e-9)
    expected = [
        [0.0, QUARTER, QUARTER],  # A: neither alone
        [CENTRE, 0.0, 0.0],  # B: MobiFone's discs are all the discs
        [0.0, QUARTER, CENTRE],  # C
    ]
    assert by_operator == pytest.approx(np.asarray(expected), rel=1e-9, abs=1e-12)
    # Where the total is short of min_share, no operator's share is computed.
    _, short = mobile._polygon_shares_by_group(
        geoms, np.ones(3, dtype=bool), sites, "4G", group=group, n_groups=3, min_share=0.7
    )
    assert np.isnan(short[0]).all()
    assert not np.isnan(short[1:]).any()


@pytest.mark.parametrize("model", ["radius", "hata"])
def test_area_rule_serves_by_each_operator_s_own_footprints(model: str) -> None:
    villages, sites, _ = _layout(model)
    result = mobile.mobile_coverage(villages, sites, rule="area", min_share=0.5)
    assert result["covered_mobile"].tolist() == [True, True, True]
    assert result["mobile_share"].to_numpy() == pytest.approx(
        [TOGETHER, CENTRE, CENTRE_AND_CORNER], rel=1e-9
    )
    assert result["serving_operators"].tolist() == ["", "MobiFone", "Viettel"]
    # Needing 0.3 instead, each of A's operators covers enough alone.
    lenient = mobile.mobile_coverage(villages, sites, rule="area", min_share=0.3)
    assert lenient["serving_operators"].tolist() == ["VNPT;Viettel", "MobiFone", "VNPT;Viettel"]
    # Needing 0.9998, only C is covered in total (B's 0.999797 falls short) and no operator
    # covers it alone.
    strict = mobile.mobile_coverage(villages, sites, rule="area", min_share=0.9998)
    assert strict["covered_mobile"].tolist() == [False, False, True]
    assert strict["serving_operators"].tolist() == ["", "", ""]


@pytest.mark.parametrize("model", ["radius", "hata"])
def test_population_rule_serves_by_each_operator_s_own_people(model: str) -> None:
    villages, sites, side_m = _layout(model)
    # A: 100 people near each operator's corner (0.28 L from it, 0.82 L from the other) and 50
    # out of reach of both; B: 100 on the centre; C: nobody counted, so its area decides.
    cells = [(0, 0.2, 0.2, 100.0), (0, 0.8, 0.2, 100.0), (0, 0.5, 0.9, 50.0), (1, 0.5, 0.5, 100.0)]
    population = mobile.PopulationCells(
        village=np.array([v for v, _, _, _ in cells], dtype=np.int64),
        x=np.array([_corner(v, side_m)[0] + x * side_m for v, x, _, _ in cells]),
        y=np.array([_corner(v, side_m)[1] + y * side_m for v, _, y, _ in cells]),
        people=np.array([p for _, _, _, p in cells]),
    )
    result = mobile.mobile_coverage(
        villages, sites, rule="population", min_share=0.5, population_cells=population
    )
    assert result["covered_mobile"].tolist() == [True, True, True]
    # A: 200 of 250 people together, 100 (0.4) for each operator alone.
    assert result["mobile_share"].to_numpy() == pytest.approx(
        [0.8, 1.0, CENTRE_AND_CORNER], rel=1e-9
    )
    assert result["serving_operators"].tolist() == ["", "MobiFone", "Viettel"]
    # Without people, the population rule is the area rule.
    spread = mobile.mobile_coverage(villages, sites, rule="population", min_share=0.5)
    assert spread["serving_operators"].tolist() == ["", "MobiFone", "Viettel"]
    assert spread["mobile_share"].to_numpy() == pytest.approx(
        [TOGETHER, CENTRE, CENTRE_AND_CORNER], rel=1e-9
    )
