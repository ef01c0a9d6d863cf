"""The command line's map.html carries the service map's base map and keys, all inline.

A hillshade of the DEM (whatever the model), commune outlines from the villages' columns
(Voronoi cells for point villages), the roads, one colour per operator listed in the legend,
and the dBm colour bar of the terrain model's power image.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from hatangso.cli import main
from hatangso.scenarios.maps import (
    HILLSHADE_LABEL,
    OPERATOR_COLOURS,
    POWER_LABEL,
    DbmScale,
    MapLayers,
    Overlay,
    admin_boundaries,
    find_outside_loads,
    operator_colours,
    village_map,
)

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


def _has(page: str, text: str) -> bool:
    """Whether `text` is in the page, as markup or as a JSON string of its scripts."""
    return text in page or json.dumps(text)[1:-1] in page


def _legend(page: str) -> str:
    found = re.search(r'<div id="hts-legend".*?</div>', page, re.DOTALL)
    assert found is not None
    return found.group(0)


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """Four point villages in two communes, sites of two operators, a hill DEM and a road."""
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3", "V4"],
            "name": ["Nà Mằm", "Pác Nặm", "Khuổi Hát", "Bản Piềng"],
            "commune": ["Xã A", "Xã A", "Xã B", "Xã B"],
            "district": ["Huyện C"] * 4,
        },
        geometry=shapely.points(
            [(X0 + 500, Y0 + 500), (X0 + 2500, Y0 + 800), (X0 + 6000, Y0), (X0 + 7000, Y0 + 1500)]
        ),
        crs=UTM,
    ).to_crs(4326)
    villages.to_file(tmp_path / "villages.geojson")
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "operator": ["Viettel", "Tower Co"], "tech": ["4G", "4G"]},
        geometry=shapely.points([(X0 + 1000, Y0 + 500), (X0 + 6500, Y0 + 600)]),
        crs=UTM,
    ).to_crs(4326)
    sites.to_file(tmp_path / "sites.geojson")
    import rasterio
    from rasterio.transform import from_origin

    cell = 100.0
    width, height = 140, 80  # x from -3 km to 11 km, y from -4 km to 4 km
    xx, yy = np.meshgrid(np.arange(width), np.arange(height))
    hill = 100.0 + 300.0 * np.exp(-(((xx - 70) / 15.0) ** 2 + ((yy - 40) / 10.0) ** 2))
    with rasterio.open(
        tmp_path / "dem.tif",
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=f"EPSG:{UTM}",
        transform=from_origin(X0 - 3000, Y0 + 4000, cell, cell),
    ) as dst:
        dst.write(hill[None].astype(np.float32))
    a, b = gpd.GeoSeries(shapely.points([(X0, Y0 + 200), (X0 + 7000, Y0 + 300)]), crs=UTM).to_crs(
        4326
    )
    (tmp_path / "roads.osm").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        f'<node id="1" version="1" lat="{a.y:.7f}" lon="{a.x:.7f}"/>\n'
        f'<node id="2" version="1" lat="{b.y:.7f}" lon="{b.x:.7f}"/>\n'
        '<way id="10" version="1"><nd ref="1"/><nd ref="2"/>'
        '<tag k="highway" v="primary"/></way>\n</osm>\n',
        encoding="utf-8",
    )
    (tmp_path / "terrain.yaml").write_text(
        "mobile: {model: terrain, rule: point}\nterrain: {radius_m: 3000, resolution_m: 100}\n",
        encoding="utf-8",
    )
    (tmp_path / "radius.yaml").write_text("mobile: {model: radius}\n", encoding="utf-8")
    return {
        "radius": tmp_path / "radius.yaml",
        "villages": tmp_path / "villages.geojson",
        "sites": tmp_path / "sites.geojson",
        "dem": tmp_path / "dem.tif",
        "roads": tmp_path / "roads.osm",
        "terrain": tmp_path / "terrain.yaml",
    }


def _coverage(monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["hatangso", "coverage", *args])
    with pytest.raises(SystemExit) as info:
        main()
        sys.exit(0)
    assert info.value.code == 0


def test_the_command_line_map_has_the_base_map_and_keys(
    inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _coverage(
        monkeypatch,
        *("--villages", str(inputs["villages"]), "--sites", str(inputs["sites"])),
        *("--dem", str(inputs["dem"]), "--roads", str(inputs["roads"])),
        *("--config", str(inputs["terrain"]), "--out", str(out), "--quiet"),
    )
    page = (out / "map.html").read_text(encoding="utf-8")

    assert find_outside_loads(page) == []
    # The hillshade, a base layer, and the power image, both inline images.
    assert page.count("L.imageOverlay(") == 2
    assert len(re.findall(r'L\.imageOverlay\(\s*"data:image/png;base64,[A-Za-z0-9+/]', page)) == 2
    assert _has(page, "Nền địa hình")
    # The power image's dBm colour bar: its values and the threshold.
    bar = page[page.index('id="hts-scale"') :]
    bar = bar[: bar.index("</div>\n")]
    assert "linear-gradient" in bar
    for value in ("-110", "-100", "-90", "-80", "-70"):
        assert f">{value}</span>" in bar
    assert "-110 dBm" in bar
    # The bar follows the power layer: hidden with it, shown with it.
    assert "bar.style.display = 'block'" in page and "bar.style.display = 'none'" in page
    # Commune and district outlines, from the point villages' columns; the road.
    assert _has(page, "Ranh giới xã") and _has(page, "Ranh giới huyện")
    assert _has(page, "Xã A") and _has(page, "Xã B")
    assert _has(page, "Đường") and '"highway": "primary"' in page
    # Two operators, two colours, each listed in the legend in the colour of its sites.
    legend = _legend(page)
    viettel, other = OPERATOR_COLOURS["Viettel"], operator_colours(["Tower Co"])["Tower Co"]
    assert viettel != other
    for op, colour in (("Viettel", viettel), ("Tower Co", other)):
        assert f'background:{colour};border-radius:50%"></span><span class="vi">Trạm BTS {op}' in (
            legend
        )
        assert f'"color": "{colour}"' in page


def test_a_dem_gives_the_hillshade_under_any_model(
    inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "radius"
    _coverage(
        monkeypatch,
        *("--villages", str(inputs["villages"]), "--sites", str(inputs["sites"])),
        *("--dem", str(inputs["dem"]), "--config", str(inputs["radius"])),
        *("--out", str(out), "--quiet"),
    )
    page = (out / "map.html").read_text(encoding="utf-8")
    assert page.count("L.imageOverlay(") == 1  # the hillshade; no power image, no colour bar
    assert 'id="hts-scale"' not in page
    assert find_outside_loads(page) == []


def test_the_hillshade_base_is_offered_only_with_a_hillshade() -> None:
    villages = gpd.GeoDataFrame(
        {"village_id": ["V1"], "covered_mobile": [True]},
        geometry=shapely.points([[105.0, 21.0]]),
        crs=4326,
    )
    plain = village_map(MapLayers(villages=villages), title="t", static_url="/static")
    assert not _has(plain, "Nền địa hình") and _has(plain, "Nền trắng")
    shade = Overlay("/map/x/hillshade.png", ((20.9, 104.9), (21.1, 105.1)), *HILLSHADE_LABEL)
    page = village_map(
        MapLayers(villages=villages, hillshade=shade), title="t", static_url="/static"
    )
    assert _has(page, "Nền địa hình") and _has(page, "Nền trắng")


def test_operators_beyond_the_known_five_get_colours_of_their_own() -> None:
    colours = operator_colours(["Viettel", "VNPT", "Op A", "Op B", "Op C"])
    assert len(set(colours.values())) == 5
    assert colours["Viettel"] == OPERATOR_COLOURS["Viettel"]
    assert not set(colours.values()) - set(OPERATOR_COLOURS.values()) & set(
        OPERATOR_COLOURS.values()
    )


def test_the_service_page_shows_the_power_scale_too() -> None:
    villages = gpd.GeoDataFrame(
        {"village_id": ["V1"], "covered_mobile": [True]},
        geometry=shapely.points([[105.0, 21.0]]),
        crs=4326,
    )
    power = Overlay(
        "/map/x/coverage.png",
        ((20.9, 104.9), (21.1, 105.1)),
        *POWER_LABEL,
        scale=DbmScale(threshold_dbm=-105.0, span_db=20.0),
    )
    page = village_map(MapLayers(villages=villages, power=power), title="t", static_url="/static")
    bar = page[page.index('id="hts-scale"') :]
    assert 'style="display:none"' in bar[:80]  # the image starts hidden, so does its bar
    for value in ("-105", "-100", "-95", "-90", "-85"):
        assert f">{value}</span>" in bar
    assert find_outside_loads(page) == []


def test_point_villages_get_commune_outlines_that_separate_them() -> None:
    villages = gpd.GeoDataFrame(
        {"commune": ["A", "A", "B", "B"]},
        geometry=shapely.points([[105.0, 21.0], [105.0, 21.01], [105.05, 21.0], [105.05, 21.01]]),
        crs=4326,
    )
    outlines = admin_boundaries(villages, "commune")
    assert outlines is not None
    assert sorted(outlines["commune"]) == ["A", "B"]
    # The shared edge of the two communes' cells runs half-way between them (105.025 E).
    shared = shapely.intersection(outlines.geometry.iloc[0], outlines.geometry.iloc[1])
    assert shapely.get_coordinates(shared)[:, 0] == pytest.approx(105.025, abs=1e-6)


def test_a_boundaries_file_replaces_the_dissolved_outlines(
    inputs: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    communes = gpd.GeoDataFrame(
        {"name": ["Xã Đông", "Xã Tây"]},
        geometry=[
            shapely.box(X0 - 1000, Y0 - 1000, X0 + 4000, Y0 + 2000),
            shapely.box(X0 + 4000, Y0 - 1000, X0 + 8000, Y0 + 2000),
        ],
        crs=UTM,
    )
    communes.to_file(tmp_path / "communes.gpkg")
    out = tmp_path / "bounded"
    _coverage(
        monkeypatch,
        *("--villages", str(inputs["villages"]), "--sites", str(inputs["sites"])),
        *("--boundaries", str(tmp_path / "communes.gpkg"), "--out", str(out), "--quiet"),
    )
    page = (out / "map.html").read_text(encoding="utf-8")
    assert _has(page, "Ranh giới hành chính")
    assert _has(page, "Xã Đông") and _has(page, "Xã Tây")
    assert not _has(page, "Ranh giới xã")
    assert find_outside_loads(page) == []

    (tmp_path / "broken.geojson").write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "hatangso",
            "coverage",
            *("--villages", str(inputs["villages"]), "--sites", str(inputs["sites"])),
            *("--boundaries", str(tmp_path / "broken.geojson"), "--out", str(out)),
        ],
    )
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "broken.geojson" in err and "boundaries" in err
