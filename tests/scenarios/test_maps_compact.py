"""A large map: its points packed in one payload, drawn by canvas layers, offline and escaped."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hatangso.scenarios.mapdata import SCALE, map_payload, read_payload
from hatangso.scenarios.maps import (
    _CHALLENGED_RADIUS,
    _CHALLENGED_STYLE,
    COMPACT_ABOVE,
    MapLayers,
    find_outside_loads,
    is_large,
    village_map,
)

EVIL = "<img src=x onerror=alert(1)>"
N = 5_000


def _layers(n: int = N, *, polygons: bool = False) -> MapLayers:
    rng = np.random.default_rng(7)
    xy = np.column_stack([rng.uniform(104.0, 106.0, n), rng.uniform(20.0, 22.0, n)])
    geometry = shapely.buffer(shapely.points(xy), 0.002) if polygons else shapely.points(xy)
    villages = gpd.GeoDataFrame(
        {
            "village_id": [f"V{i}" for i in range(n)],
            "name": [EVIL if i == 0 else f"Thôn {i}" for i in range(n)],
            "commune": [f"Xã {i // 12}" for i in range(n)],
            "population": rng.integers(100, 3000, n).astype(float),
            "nearest_site_m": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 9000, n)),
            "covered_mobile": np.arange(n) % 5 != 0,
            "mobile_reason": np.where(np.arange(n) % 5 == 0, "xa trạm", None),
            "disputed": np.arange(n) % 97 == 0,
        },
        geometry=geometry,
        crs=4326,
    )
    sites = gpd.GeoDataFrame(
        {
            "site_id": [f"S{i}`${{x}}" if i == 0 else f"S{i}" for i in range(n)],
            "operator": rng.choice(["Viettel", "VNPT", "MobiFone"], n),
            "tech": rng.choice(["4G", "4G;5G"], n),
        },
        geometry=shapely.points(xy + rng.normal(0, 0.01, (n, 2))),
        crs=4326,
    )
    towers = gpd.GeoDataFrame(
        {"shared": [True, False], "operators": [f"Viettel;{EVIL}", "VNPT"]},
        geometry=shapely.points(xy[:2]),
        crs=4326,
    )
    return MapLayers(villages=villages, sites=sites, towers=towers)


@pytest.fixture(scope="module")
def page() -> str:
    return village_map(_layers(), title="Toàn quốc")


def _payload(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/octet-stream" id="[^"]+">([^<]*)</script>', page)
    assert found is not None
    return read_payload(found.group(1))


def test_large_maps_are_compact_and_small_ones_are_not() -> None:
    assert is_large(_layers())
    assert not is_large(_layers(COMPACT_ABOVE))
    small = village_map(_layers(50), title="t")
    assert "hatangso.points(" not in small and "application/octet-stream" not in small


def test_page_stays_small_per_feature(page: str) -> None:
    assert "hatangso.points(" in page
    # One element per layer, not per feature: no GeoJSON features, no markers.
    assert page.count('"type": "Feature"') == 0 and page.count("L.circleMarker(") == 0
    found = re.search(r'id="hts-data-[^"]+">([^<]*)<', page)
    assert found is not None
    per_feature = len(found.group(1)) / (2 * N)
    assert per_feature < 24, f"{per_feature:.1f} bytes of payload per village or site"
    assert len(page.encode()) < 600_000


def test_payload_decodes_to_the_coordinates_and_statuses(page: str) -> None:
    layers = _layers()
    data = _payload(page)
    header = data["header"]
    arrays = data["arrays"]
    assert isinstance(header, dict) and isinstance(arrays, dict)
    lon, lat = np.asarray(data["villages_lon"]), np.asarray(data["villages_lat"])
    assert len(lon) == N
    # The points come in another order (along a curve); find each one's village by its place.
    xy = shapely.get_coordinates(layers.villages.geometry.array)
    tree = shapely.STRtree(shapely.points(xy))
    _, found = tree.query_nearest(shapely.points(np.column_stack([lon, lat])), all_matches=False)
    assert np.abs(xy[found, 0] - lon).max() <= 0.5 / SCALE + 1e-12
    assert np.abs(xy[found, 1] - lat).max() <= 0.5 / SCALE + 1e-12
    assert len(np.unique(found)) == N
    status = np.asarray(arrays["villages_status"])
    covered = layers.villages["covered_mobile"].to_numpy()[found]
    disputed = layers.villages["disputed"].to_numpy()[found]
    assert np.array_equal(status & 1, covered.astype(np.uint8))
    assert np.array_equal(status >> 1, disputed.astype(np.uint8))

    fields = {f["column"]: f for f in header["villages"]["fields"]}
    assert list(fields) == ["name", "commune", "population", "nearest_site_m", "mobile_reason"]
    names = np.asarray(fields["name"]["levels"], dtype=object)[arrays["villages_name"]]
    assert names[found == 0][0] == "&lt;img src=x onerror=alert(1)&gt;"
    assert names[found == 1][0] == "Thôn 1"
    population = arrays["villages_population"] / fields["population"]["scale"]
    assert np.array_equal(population, layers.villages["population"].to_numpy()[found])
    distance = arrays["villages_nearest_site_m"]
    expected = layers.villages["nearest_site_m"].to_numpy()[found]
    assert np.array_equal(distance == -(2**31), np.isnan(expected))
    assert np.array_equal(distance[~np.isnan(expected)], np.round(expected[~np.isnan(expected)]))

    sites = header["sites"]
    assert [o["name"] for o in sites["operators"]] == ["MobiFone", "VNPT", "Viettel"]
    assert sites["operators"][-1]["end"] == N
    ops = np.asarray(arrays["sites_operator"])
    assert np.all(np.diff(ops) >= 0)
    assert "S0`${x}" in sites["site_id"]["levels"]  # markup-safe text stays as it is
    assert header["towers"]["n"] == 1
    assert header["towers"]["operators"]["levels"] == ["Viettel;&lt;img src=x onerror=alert(1)&gt;"]


def test_polygon_villages_are_drawn_at_a_point_on_their_surface() -> None:
    layers = _layers(300, polygons=True)
    villages = layers.villages
    payload = map_payload(
        villages,
        status=villages["covered_mobile"].to_numpy(),
        disputed=villages["disputed"].to_numpy(),
        fields=[("name", "Thôn")],
    )
    data = read_payload(payload.data)
    inside = shapely.contains_xy(
        shapely.union_all(villages.geometry.array), data["villages_lon"], data["villages_lat"]
    )
    assert inside.all()
    assert "sites" not in data["header"] and "towers" not in data["header"]


def test_page_loads_nothing_and_carries_no_markup_from_the_input(page: str) -> None:
    assert find_outside_loads(page) == []
    assert "<img src=x" not in page
    assert "${x}" not in page.replace("S0`${x}", "")  # only inside the compressed payload
    # The page's own script is inline; the service's page links it from /static instead.
    linked = village_map(_layers(), title="t", static_url="/static")
    assert '<script src="/static/hatangso/points.js"></script>' in linked
    assert "PointLayer = L.Layer.extend" not in linked
    assert find_outside_loads(linked) == []


def test_compact_page_keeps_legend_kpis_and_layer_control() -> None:
    kpis = {"indicators": [{"label_vi": "Phủ", "label_en": "Cover", "value": 0.5}]}
    layers = _layers()
    page = village_map(
        MapLayers(villages=layers.villages, sites=layers.sites, towers=layers.towers, kpis=kpis),
        title="t",
    )
    assert 'id="hts-legend"' in page and 'id="hts-kpis"' in page
    assert "L.control.layers" in page
    for label in ("Thôn chưa có", "Thôn đã có", "Thôn có tranh chấp", "Trạm BTS Viettel"):
        assert label in page
    assert "Trạm dùng chung" in page


@pytest.mark.browser
def test_compact_map_in_chromium_offline(
    page: str, tmp_path: Path, offline_page: Callable[..., Any]
) -> None:
    path = tmp_path / "map.html"
    path.write_text(page, encoding="utf-8")
    hostile = _layers().villages.geometry.iloc[0]
    opened = offline_page(1100, 800, schemes=("file:", "data:", "blob:"), hosts=())
    tab, blocked, errors = opened.page, opened.blocked, opened.errors
    dialogs: list[str] = []
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tab.goto(path.as_uri(), wait_until="load", timeout=60_000)
    tab.wait_for_function("window.hatangsoReady === true", timeout=30_000)
    # Zoom onto the hostile village so that nothing else is near it, then click it.
    x, y = tab.evaluate(
        """([lat, lon]) => {
          const map = window[Object.keys(window).find(k => k.startsWith('map_'))];
          map.setView([lat, lon], 16, {animate: false});
          const p = map.latLngToContainerPoint([lat, lon]);
          return [p.x, p.y];
        }""",
        [hostile.y, hostile.x],
    )
    tab.wait_for_timeout(300)
    tab.mouse.click(x, y)
    popup = tab.locator(".leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    assert EVIL in popup.inner_text()  # shown as text ...
    assert popup.locator("img").count() == 0  # ... never as markup
    assert "Thôn" in popup.inner_text()

    # The site layers (off when the page opens): clusters when zoomed out, and the
    # hostile site's tooltip, as text, when zoomed in on it.
    clusters = tab.evaluate(
        """() => {
          const map = window[Object.keys(window).find(k => k.startsWith('map_'))];
          map.closePopup();
          Object.keys(window).filter(k => k.startsWith('canvas_points_'))
            .forEach(k => { if (!map.hasLayer(window[k])) window[k].addTo(map); });
          map.setZoom(8, {animate: false});
          return new Promise(done => setTimeout(() => done(
            map._htsLayers.reduce((n, l) => n + l._clusters.length, 0)), 300));
        }"""
    )
    assert clusters > 0
    site = _layers().sites.geometry.iloc[0]
    x, y = tab.evaluate(
        """([lat, lon]) => {
          const map = window[Object.keys(window).find(k => k.startsWith('map_'))];
          map.setView([lat, lon], 17, {animate: false});
          const p = map.latLngToContainerPoint([lat, lon]);
          return [p.x, p.y];
        }""",
        [site.y, site.x],
    )
    tab.wait_for_timeout(300)
    tab.mouse.move(x + 1, y)
    tooltip = tab.locator(".leaflet-tooltip")
    tooltip.wait_for(timeout=10_000)
    assert "S0`${x}" in tooltip.inner_text()
    assert tooltip.locator("img").count() == 0
    assert errors == [] and dialogs == []
    assert blocked == [], f"the page tried to reach outside: {blocked[:3]}"


#: Villages with a challenge in the national-size case: (village, status, upheld ids).
_CHALLENGES = {
    3: ("open", None),
    40: ("upheld", "CH-0007"),
    41: ("rejected", None),
    42: ("answered", None),
}


def _challenged_layers() -> MapLayers:
    layers = _layers()
    n = len(layers.villages)
    status = np.full(n, None, dtype=object)
    ids = np.full(n, None, dtype=object)
    for i, (state, upheld) in _CHALLENGES.items():
        status[i], ids[i] = state, upheld
    villages = layers.villages.assign(
        challenge=pd.array(status, dtype="string"), challenge_id=pd.array(ids, dtype="string")
    )
    return MapLayers(villages=villages, sites=layers.sites, towers=layers.towers)


@pytest.fixture(scope="module")
def challenged_page() -> str:
    return village_map(_challenged_layers(), title="Toàn quốc")


def test_the_payload_carries_each_villages_challenge(challenged_page: str) -> None:
    layers = _challenged_layers()
    data = _payload(challenged_page)
    header, arrays = data["header"], data["arrays"]
    assert isinstance(header, dict) and isinstance(arrays, dict)
    xy = shapely.get_coordinates(layers.villages.geometry.array)
    lonlat = np.column_stack([data["villages_lon"], data["villages_lat"]])
    _, found = shapely.STRtree(shapely.points(xy)).query_nearest(shapely.points(lonlat))
    # One byte per village, 0 without a challenge; the statuses in a table.
    codes = np.asarray(arrays["villages_challenge"])
    assert codes.dtype == np.uint8
    levels = header["villages"]["challenge"]["levels"]
    assert sorted(levels) == ["answered", "open", "rejected", "upheld"]
    shown = {int(found[k]): levels[c - 1] for k, c in enumerate(codes.tolist()) if c}
    assert shown == {i: state for i, (state, _) in _CHALLENGES.items()}
    fields = {f["column"]: f for f in header["villages"]["fields"]}
    assert fields["challenge"]["kind"] == "challenge"
    assert "villages_challenge_id" in arrays  # the upheld ids: a text field as before
    ids = np.asarray(fields["challenge_id"]["levels"], dtype=object)
    upheld = ids[arrays["villages_challenge_id"][found == 40]]
    assert upheld.tolist() == ["CH-0007"]
    # The ring and its key: the Folium map's colour, weight and radius, from one place.
    assert '"status": "challenged"' in challenged_page
    assert f'"color": "{_CHALLENGED_STYLE["color"]}"' in challenged_page
    assert f'"radius": {_CHALLENGED_RADIUS}' in challenged_page
    legend = challenged_page[challenged_page.index('id="hts-legend"') :]
    assert f"border:3px solid {_CHALLENGED_STYLE['color']}" in legend
    assert "Thôn bị khiếu nại" in legend[: legend.index("</div>")]
    # A few more bytes than without challenges: the page keeps its budget.
    assert len(challenged_page.encode()) < 600_000


def test_a_status_from_the_input_is_escaped_in_the_payload() -> None:
    layers = _layers(300)
    villages = layers.villages
    status = pd.Series([EVIL if i == 5 else None for i in range(len(villages))], dtype="string")
    payload = map_payload(
        villages,
        status=villages["covered_mobile"].to_numpy(),
        disputed=villages["disputed"].to_numpy(),
        fields=[("name", "Thôn"), ("challenge", "Khiếu nại")],
        challenge=status,
    )
    assert payload.challenged
    header = read_payload(payload.data)["header"]
    assert header["villages"]["challenge"]["levels"] == ["&lt;img src=x onerror=alert(1)&gt;"]
    plain = map_payload(
        villages,
        status=villages["covered_mobile"].to_numpy(),
        disputed=villages["disputed"].to_numpy(),
        fields=[("name", "Thôn")],
        challenge=pd.Series([None] * len(villages), dtype="string"),
    )
    assert not plain.challenged
    assert "villages_challenge" not in read_payload(plain.data)["arrays"]


@pytest.mark.browser
def test_a_challenged_village_in_chromium(
    challenged_page: str, tmp_path: Path, offline_page: Callable[..., Any]
) -> None:
    path = tmp_path / "map.html"
    path.write_text(challenged_page, encoding="utf-8")
    villages = _challenged_layers().villages
    opened = offline_page(1100, 800, schemes=("file:", "data:", "blob:"), hosts=())
    tab, blocked, errors = opened.page, opened.blocked, opened.errors
    tab.goto(path.as_uri(), wait_until="load", timeout=60_000)
    tab.wait_for_function("window.hatangsoReady === true", timeout=30_000)
    legend = tab.locator("#hts-legend").inner_text()
    assert "Thôn bị khiếu nại" in legend
    for index, expected in ((40, ("upheld", "CH-0007")), (3, ("open",))):
        point = villages.geometry.iloc[index]
        x, y = tab.evaluate(
            """([lat, lon]) => {
              const map = window[Object.keys(window).find(k => k.startsWith('map_'))];
              map.closePopup();
              map.setView([lat, lon], 16, {animate: false});
              const p = map.latLngToContainerPoint([lat, lon]);
              return [p.x, p.y];
            }""",
            [point.y, point.x],
        )
        tab.wait_for_timeout(300)
        # The ring is drawn: a pixel of its colour on the canvas, a ring's width away.
        ring = tab.evaluate(
            """([x, y, r]) => {
              const layer = Object.keys(window).filter(k => k.startsWith('canvas_points_'))
                .map(k => window[k]).find(l => l.options.status === 'challenged');
              const c = layer._canvas, ratio = window.devicePixelRatio || 1;
              const at = layer._offset.pad;
              const px = c.getContext('2d').getImageData(
                Math.round((x + at.x + r) * ratio), Math.round((y + at.y) * ratio), 1, 1
              ).data;
              return [px[0], px[1], px[2], px[3], layer._drawn.n];
            }""",
            [x, y, _CHALLENGED_RADIUS],
        )
        assert ring[4] >= 1 and ring[3] > 0 and ring[0] > 200 and ring[2] < 80, ring
        tab.mouse.click(x, y)
        popup = tab.locator(".leaflet-popup-content")
        popup.wait_for(timeout=10_000)
        text = popup.inner_text()
        assert "Khiếu nại" in text
        for word in expected:
            assert word in text
    assert errors == [] and blocked == []


def test_the_popup_gives_a_reason_only_to_uncovered_villages() -> None:
    """The row is "why uncovered": a covered village's reason (the terrain model's best
    server) stays in villages.gpkg but is not shown, on the compact page and the small one."""
    layers = _layers()
    villages = layers.villages.assign(
        mobile_reason=np.where(
            layers.villages["covered_mobile"], "terrain model: best server -86 dBm", "xa trạm"
        )
    )
    data = _payload(village_map(MapLayers(villages=villages, sites=layers.sites), title="t"))
    fields = {f["column"]: f for f in data["header"]["villages"]["fields"]}
    codes = data["arrays"]["villages_mobile_reason"]
    shown = np.where(
        codes < 0, None, np.asarray(fields["mobile_reason"]["levels"], dtype=object)[codes]
    )
    covered = (data["arrays"]["villages_status"] & 1).astype(bool)
    assert set(shown[covered]) == {None}
    assert set(shown[~covered]) == {"xa trạm"}

    few = villages.iloc[:40].assign(
        mobile_reason=lambda v: v["mobile_reason"].str.replace("ạ", "a")
    )
    small = village_map(MapLayers(villages=few), title="t")
    assert "xa tram" in small  # the uncovered villages' (a disputed one is drawn twice)
    assert "best server" not in small
    # The covered villages' layer leaves the row out of its popup; the others (the uncovered,
    # the disputed) keep it.
    assert small.count("Why uncovered") == small.count("Nearest site (m)") - 1
    assert villages["mobile_reason"].str.contains("best server").any()  # the input is kept
