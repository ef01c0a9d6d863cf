"""Point villages are circles coloured by their status, on the file and on the service's page."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pytest
import shapely

from hatangso.scenarios.maps import STATUS_STYLE, MapLayers, village_map


def _point_villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3"],
            "name": ["Bản Nà Mạ", "Thôn Khuổi", "Bản Phiêng"],
            "covered_mobile": [True, False, False],
            "disputed": [False, True, False],
        },
        geometry=shapely.points([[105.0, 21.0], [105.01, 21.01], [105.02, 21.0]]),
        crs=4326,
    )


def _styles(page: str) -> list[dict[str, object]]:
    """The styles the page's GeoJSON layers give their features."""
    found = re.findall(r"_styler\(feature\) \{.*?return (\{.*?\});", page, re.DOTALL)
    return [json.loads(s) for s in found]


@pytest.mark.parametrize("static_url", [None, "/static"])
def test_point_villages_are_circles_coloured_by_status(static_url: str | None) -> None:
    page = village_map(MapLayers(villages=_point_villages()), title="Điểm", static_url=static_url)

    # No default pin: its images are not beside a lone map.html, and it shows no status.
    assert "marker-icon.png" not in page
    assert "marker-shadow.png" not in page
    # Covered, uncovered and disputed villages: each layer draws its points as circles.
    assert len(re.findall(r"_pointToLayer\(feature, latlng\)", page)) == 3
    assert page.count("new L.CircleMarker(latlng, opts)") == 3
    fills = {s.get("fillColor") for s in _styles(page)}
    assert {STATUS_STYLE["covered"]["fillColor"], STATUS_STYLE["uncovered"]["fillColor"]} <= fills
    # The legend shows the colours the circles have.
    legend = page[page.index('id="hts-legend"') :]
    for state in ("covered", "uncovered"):
        assert f"background:{STATUS_STYLE[state]['fillColor']}" in legend
    # ... and the circles are filled with them: Leaflet paints no fill colour on a circle
    # marker whose options say `fill: false`, leaving a bare ring the legend does not show.
    options = re.findall(
        r"_pointToLayer\(feature, latlng\) \{\s*var opts = \{(.*?)\};", page, re.DOTALL
    )
    assert len(options) == 3
    assert all('"fill": true' in o for o in options)


def test_polygon_villages_keep_no_point_marker() -> None:
    squares = shapely.box([105.0, 105.02], [21.0, 21.0], [105.01, 105.03], [21.01, 21.01])
    villages = gpd.GeoDataFrame(
        {"village_id": ["V1", "V2"], "covered_mobile": [False, True]}, geometry=squares, crs=4326
    )
    page = village_map(MapLayers(villages=villages), title="Vùng")

    assert "_pointToLayer" not in page
    assert "marker-icon.png" not in page


@pytest.mark.parametrize("compact", [False, True])
def test_the_legend_keys_only_what_the_map_draws(compact: bool) -> None:
    # Villages and one site, no fiber and no tower shared: the legend keys neither. With a
    # fiber route and a shared tower, it keys both.
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": ["Viettel"], "tech": ["4G"]},
        geometry=shapely.points([[105.0, 21.005]]),
        crs=4326,
    )
    bare = village_map(
        MapLayers(villages=_point_villages(), sites=sites), title="t", compact=compact
    )
    legend = bare[bare.index('id="hts-legend"') :]
    legend = legend[: legend.index("</div>")]
    assert "Trạm BTS Viettel" in legend
    assert "Trạm dùng chung" not in legend and "Cáp quang" not in legend

    fiber = gpd.GeoDataFrame(
        {"operator": ["VNPT"]},
        geometry=[shapely.LineString([(105.0, 21.0), (105.02, 21.0)])],
        crs=4326,
    )
    towers = gpd.GeoDataFrame(
        {"shared": [True], "operators": ["Viettel;VNPT"]},
        geometry=shapely.points([[105.0, 21.005]]),
        crs=4326,
    )
    full = village_map(
        MapLayers(villages=_point_villages(), sites=sites, fiber=fiber, towers=towers),
        title="t",
        compact=compact,
    )
    legend = full[full.index('id="hts-legend"') :]
    legend = legend[: legend.index("</div>")]
    assert "Trạm dùng chung" in legend and "Cáp quang" in legend


def test_the_fiber_key_shows_only_with_the_fiber_layer() -> None:
    # The fiber layer starts off, drawn dashed in each operator's colour: its key is hidden
    # with it (and shown by the layer's add event), and says the colours are the operators'.
    fiber = gpd.GeoDataFrame(
        {"operator": ["VNPT"]},
        geometry=[shapely.LineString([(105.0, 21.0), (105.02, 21.0)])],
        crs=4326,
    )
    page = village_map(MapLayers(villages=_point_villages(), fiber=fiber), title="t")
    legend = page[page.index('id="hts-legend"') :]
    hidden = legend.index('<span id="hts-fiber-key" style="display:none">')
    assert legend.index("Cáp quang (màu của nhà mạng)") > hidden
    assert "background:#6a3d9a" not in legend
    assert "getElementById('hts-fiber-key')" in page


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize(
    ("covered", "keyed"),
    [
        ([True, True, True], ["Thôn đã có"]),
        ([True, False, False], ["Thôn chưa có", "Thôn đã có"]),
        ([False, False, False], ["Thôn chưa có"]),
    ],
)
def test_the_legend_keys_only_the_village_states_drawn(
    compact: bool, covered: list[bool], keyed: list[str]
) -> None:
    # Every village covered: no key of an uncovered village, and the other way round.
    villages = _point_villages().assign(covered_mobile=covered)
    page = village_map(MapLayers(villages=villages), title="t", compact=compact)
    legend = page[page.index('id="hts-legend"') :]
    legend = legend[: legend.index("</div>")]
    assert [key for key in ("Thôn chưa có", "Thôn đã có") if key in legend] == keyed
