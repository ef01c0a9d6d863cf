"""The service's map page: uncovered villages and the infrastructure, with no internet needed.

The page is built with folium; Leaflet and leaflet.markercluster are served by the service
itself from ``/static`` (vendored in ``app/static`` with their licences), and the base map
needs no tile server: administrative boundaries dissolved from the villages, the roads of the
scenario's OSM file and a hillshade computed from its DEM, drawn as an image overlay.
OpenStreetMap tiles are offered only when the service is configured to (``online_tiles``).

Labels are Vietnamese, each with its English twin; a button switches the page between them
(``?lang=en`` opens it in English).
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from branca.element import Element
from folium.plugins import MarkerCluster

from hatangso.scenarios.maps import OPERATOR_COLOURS, find_outside_loads, kpi_cells

__all__ = ["Overlay", "ServiceMapLayers", "hillshade", "raster_overlay_png", "service_map"]

log = logging.getLogger(__name__)

STATUS_STYLE = {
    "uncovered": {"fillColor": "#d7301f", "color": "#7f0000", "weight": 1, "fillOpacity": 0.7},
    "covered": {"fillColor": "#a1d99b", "color": "#41ab5d", "weight": 0.5, "fillOpacity": 0.35},
}
INDICATOR_COLUMN = {"mobile": "covered_mobile", "5g": "covered_5g", "ftth": "covered_ftth"}
INDICATOR_LABEL = {
    "mobile": ("băng rộng di động", "mobile broadband"),
    "5g": ("5G", "5G"),
    "ftth": ("cáp quang FTTH", "FTTH fiber"),
}


def bilingual(vi: str, en: str) -> str:
    """Return a label shown in Vietnamese or English by the page's language switch."""
    return f'<span class="vi">{html.escape(vi)}</span><span class="en">{html.escape(en)}</span>'


@dataclass(frozen=True)
class Overlay:
    """An image drawn over the map: its URL and its [[south, west], [north, east]] bounds."""

    url: str
    bounds: tuple[tuple[float, float], tuple[float, float]]
    label_vi: str
    label_en: str
    opacity: float = 0.6


@dataclass(frozen=True)
class ServiceMapLayers:
    """What one map page shows; every layer but the villages is optional (EPSG:4326)."""

    villages: gpd.GeoDataFrame
    kpis: Mapping[str, Any] | None = None
    sites: gpd.GeoDataFrame | None = None
    towers: gpd.GeoDataFrame | None = None
    access_points: gpd.GeoDataFrame | None = None
    fiber: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    hillshade: Overlay | None = None
    coverage_raster: Overlay | None = None


# --------------------------------------------------------------------------------------------
# Rasters as images
# --------------------------------------------------------------------------------------------


def hillshade(
    elevation_m: npt.NDArray[np.float64],
    *,
    cell_x_m: float,
    cell_y_m: float,
    azimuth_deg: float = 315.0,
    altitude_deg: float = 45.0,
) -> npt.NDArray[np.float64]:
    """Hillshade of a DEM, in [0, 1] (NaN where the elevation is NaN).

    Parameters
    ----------
    elevation_m
        Elevations, rows from north to south.
    cell_x_m, cell_y_m
        Cell size east-west and north-south, metres.
    azimuth_deg, altitude_deg
        Sun direction (clockwise from north) and height above the horizon.

    Returns
    -------
    numpy.ndarray
        Illumination ``cos(zenith)cos(slope) + sin(zenith)sin(slope)cos(azimuth - aspect)``,
        clipped to [0, 1].

    Notes
    -----
    Slope and aspect from central differences (``numpy.gradient``); the illumination formula is
    the standard one of Burrough and McDonnell, *Principles of GIS* (1998), as used by GDAL's
    ``gdaldem hillshade``. A flat cell gets ``cos(zenith)`` = sin(altitude) (0.707 at 45 degrees).

    Examples
    --------
    >>> flat = np.zeros((3, 3))
    >>> round(float(hillshade(flat, cell_x_m=30, cell_y_m=30)[1, 1]), 3)
    0.707
    """
    dz_dy, dz_dx = np.gradient(elevation_m, cell_y_m, cell_x_m)
    # Rows run north to south, so the northward gradient is the negated row gradient.
    dz_dn = -dz_dy
    slope = np.arctan(np.hypot(dz_dx, dz_dn))
    aspect = np.arctan2(-dz_dx, -dz_dn)  # direction of steepest descent, clockwise from north
    zenith = np.deg2rad(90.0 - altitude_deg)
    azimuth = np.deg2rad(azimuth_deg)
    shade = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(
        azimuth - aspect
    )
    clipped: npt.NDArray[np.float64] = np.clip(shade, 0.0, 1.0)
    return clipped


def _png(rgba: npt.NDArray[np.uint8]) -> bytes:
    import warnings

    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    bands, height, width = rgba.shape
    # A PNG carries no georeferencing; the page places it by its bounds.
    with warnings.catch_warnings(), MemoryFile() as memory:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with memory.open(
            driver="PNG", width=width, height=height, count=bands, dtype="uint8"
        ) as dst:
            dst.write(rgba)
        data: bytes = memory.read()
    return data


def _read_mercator(
    path: Path, *, max_px: int
) -> tuple[npt.NDArray[np.float64], tuple[tuple[float, float], tuple[float, float]], float, float]:
    """Read band 1 of a raster warped to Web Mercator, at most `max_px` on a side."""
    import rasterio
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    with rasterio.open(path) as src:
        transform, width, height = calculate_default_transform(
            src.crs, "EPSG:3857", src.width, src.height, *src.bounds
        )
        assert width is not None and height is not None
        scale = max(width, height) / max_px
        if scale > 1:
            width, height = int(width / scale), int(height / scale)
            transform = transform * transform.scale(scale, scale)
        out = np.full((height, width), np.nan, dtype=np.float64)
        nodata = src.nodata
        source = src.read(1).astype(np.float64)
        if nodata is not None:
            source[source == nodata] = np.nan
        reproject(
            source,
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            src_nodata=np.nan,
            dst_transform=transform,
            dst_crs="EPSG:3857",
            dst_nodata=np.nan,
            resampling=Resampling.bilinear,
        )
    west, north = transform * (0, 0)
    east, south = transform * (width, height)
    w, s, e, n = transform_bounds("EPSG:3857", "EPSG:4326", west, south, east, north)
    lat_mid = np.deg2rad((s + n) / 2)
    # A Web Mercator metre is 1/cos(latitude) ground metres.
    cell_x_m = abs(transform.a) * np.cos(lat_mid)
    cell_y_m = abs(transform.e) * np.cos(lat_mid)
    return out, ((s, w), (n, e)), float(cell_x_m), float(cell_y_m)


def hillshade_png(
    dem: Path, *, max_px: int = 1024
) -> tuple[bytes, tuple[tuple[float, float], tuple[float, float]]]:
    """Render a DEM's hillshade as a grey PNG in Web Mercator, and its lat/lon bounds."""
    elevation, bounds, cell_x_m, cell_y_m = _read_mercator(dem, max_px=max_px)
    valid = np.isfinite(elevation)
    filled = np.where(valid, elevation, np.nanmean(elevation) if valid.any() else 0.0)
    shade = hillshade(filled, cell_x_m=cell_x_m, cell_y_m=cell_y_m)
    # 32 grey levels: the eye sees no banding under a 55 % opacity overlay, and the PNG
    # compresses several times better than with 256.
    grey = ((shade * 31).round() * (255 / 31)).astype(np.uint8)
    alpha = np.where(valid, 255, 0).astype(np.uint8)
    return _png(np.stack([grey, alpha])), bounds


def raster_overlay_png(
    raster: Path, *, low: float = -120.0, high: float = -70.0, max_px: int = 1400
) -> tuple[bytes, tuple[tuple[float, float], tuple[float, float]]]:
    """Render a received-power raster (dBm) as a colour PNG: red (weak) to green (strong)."""
    values, bounds, _, _ = _read_mercator(raster, max_px=max_px)
    valid = np.isfinite(values)
    t = np.clip((np.nan_to_num(values, nan=low) - low) / (high - low), 0.0, 1.0)
    red = (255 * (1 - t)).astype(np.uint8)
    green = (200 * t).astype(np.uint8)
    blue = np.full_like(red, 40)
    alpha = np.where(valid, 170, 0).astype(np.uint8)
    return _png(np.stack([red, green, blue, alpha])), bounds


# --------------------------------------------------------------------------------------------
# Vector layers
# --------------------------------------------------------------------------------------------


def _light(frame: gpd.GeoDataFrame, tolerance_deg: float, columns: list[str]) -> dict[str, Any]:
    """GeoJSON of simplified geometries, coordinates rounded to 1e-5 degree (about 1 m).

    No bounding boxes (folium would add one per feature): the page stays small.
    """
    geoms = shapely.simplify(
        np.asarray(frame.geometry.array, dtype=object), tolerance_deg, preserve_topology=True
    )
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, 5))
    out = gpd.GeoDataFrame(
        {c: frame[c].to_numpy() for c in columns if c in frame}, geometry=geoms, crs=4326
    )
    for column in out.columns:
        if column == "geometry":
            continue
        values = out[column]
        if pd.api.types.is_float_dtype(values):
            values = values.round(0)
        out[column] = values.astype(object).where(values.notna(), "")
    document: dict[str, Any] = json.loads(out.to_json(drop_id=True))
    return document


def _grouped(frame: gpd.GeoDataFrame, by: list[str]) -> gpd.GeoDataFrame:
    """One multi-part feature per group of `by` (fewer features, a smaller page)."""
    keys = [c for c in by if c in frame]
    if not keys:
        return frame
    clean = frame[[*keys, frame.geometry.name]].copy()
    for key in keys:
        clean[key] = clean[key].fillna("").astype(str)
    merged = clean.dissolve(by=keys, as_index=False)
    lines = merged.geom_type.isin(["LineString", "MultiLineString"])
    if lines.any():
        geoms = np.asarray(merged.geometry.array, dtype=object)
        geoms[lines.to_numpy()] = shapely.line_merge(geoms[lines.to_numpy()])
        merged = merged.set_geometry(geoms)
    return merged


def admin_boundaries(villages: gpd.GeoDataFrame, level: str) -> gpd.GeoDataFrame | None:
    """Outlines of the admin units of `level`, dissolved from the village polygons."""
    if level not in villages or not villages.geom_type.isin(["Polygon", "MultiPolygon"]).any():
        return None
    polys = villages[villages.geom_type.isin(["Polygon", "MultiPolygon"])]
    merged = polys[[level, polys.geometry.name]].dissolve(by=level, as_index=False)
    merged = merged.set_geometry(shapely.boundary(np.asarray(merged.geometry.array, dtype=object)))
    return merged


def _popup_fields(indicator: str) -> list[tuple[str, str, str]]:
    reason = "ftth_reason" if indicator == "ftth" else "mobile_reason"
    return [
        ("name", "Thôn", "Village"),
        ("commune", "Xã", "Commune"),
        ("district", "Huyện", "District"),
        ("population", "Dân số", "Population"),
        ("nearest_site_m", "Trạm gần nhất (m)", "Nearest site (m)"),
        ("serving_operators", "Nhà mạng phục vụ", "Serving operators"),
        (reason, "Lý do chưa phủ", "Why uncovered"),
        ("ftth_distance_m", "Cáp quang gần nhất (m)", "Nearest fiber (m)"),
    ]


_PAGE_CSS = """
<style>
  html, body {height:100%; margin:0}
  .en {display:none}
  body.lang-en .en {display:inline}
  body.lang-en .vi {display:none}
  .hts-box {background:white; padding:6px 8px; border-radius:6px; box-shadow:0 1px 4px #0004;
            font:12px sans-serif}
  .hts-box table {border-collapse:collapse}
  .hts-box td, .hts-box th {padding:1px 4px; text-align:left}
  .hts-swatch {display:inline-block; width:12px; height:12px; margin-right:4px;
               vertical-align:middle; border:1px solid #0006}
  #hts-lang {position:absolute; top:10px; left:54px; z-index:1000; cursor:pointer}
  #hts-legend {position:absolute; bottom:48px; left:12px; z-index:1000; max-width:260px}
  #hts-kpis {position:absolute; bottom:24px; right:12px; z-index:1000; max-width:420px;
             max-height:45%; overflow:auto}
  #hts-title {position:absolute; top:10px; left:50%; transform:translateX(-50%); z-index:1000;
              font-weight:bold}
  .leaflet-container {background:#f4f1ea}
</style>
"""

_LANG_SCRIPT = """
<script>
(function () {
  function setLang(lang) {
    document.body.classList.toggle('lang-en', lang === 'en');
    document.documentElement.lang = lang;
  }
  var wanted = new URLSearchParams(window.location.search).get('lang');
  document.addEventListener('DOMContentLoaded', function () {
    setLang(wanted === 'en' ? 'en' : 'vi');
    var button = document.getElementById('hts-lang');
    if (button) {
      button.addEventListener('click', function () {
        setLang(document.body.classList.contains('lang-en') ? 'vi' : 'en');
      });
    }
  });
})();
</script>
"""


def _kpi_panel(kpis: Mapping[str, Any]) -> str:
    rows = []
    for ind in kpis.get("indicators", []):
        shown, goal, mark = kpi_cells(ind)
        label = bilingual(str(ind.get("label_vi", "")), str(ind.get("label_en", "")))
        rows.append(f"<tr><td>{label}</td><td>{shown}</td><td>{goal}</td><td>{mark}</td></tr>")
    head = (
        f"<tr><th>{bilingual('Chỉ tiêu', 'Indicator')}</th><th>{bilingual('Đạt', 'Value')}</th>"
        f"<th>{bilingual('Mục tiêu', 'Target')}</th><th></th></tr>"
    )
    return f'<div id="hts-kpis" class="hts-box"><table>{head}{"".join(rows)}</table></div>'


def _legend(indicator: str, operators: list[str]) -> str:
    vi, en = INDICATOR_LABEL[indicator]
    swatch = '<span class="hts-swatch" style="background:{}"></span>'
    items = [
        f"<b>{bilingual('Chú giải', 'Legend')}</b>",
        swatch.format(STATUS_STYLE["uncovered"]["fillColor"])
        + bilingual(f"Thôn chưa có {vi}", f"Village without {en}"),
        swatch.format(STATUS_STYLE["covered"]["fillColor"])
        + bilingual(f"Thôn đã có {vi}", f"Village with {en}"),
        '<span class="hts-swatch" style="border:2px solid black;border-radius:50%"></span>'
        + bilingual("Trạm dùng chung", "Shared tower"),
        '<span class="hts-swatch" style="background:#6a3d9a;height:3px"></span>'
        + bilingual("Cáp quang", "Fiber"),
    ]
    for op in operators:
        colour = OPERATOR_COLOURS.get(op, "#555555")
        items.append(
            f'<span class="hts-swatch" style="background:{colour};border-radius:50%"></span>'
            + bilingual(f"Trạm BTS {op}", f"{op} BTS site")
        )
    return '<div id="hts-legend" class="hts-box">' + "<br>".join(items) + "</div>"


def _image_overlay(url: str, **options: Any) -> folium.raster_layers.ImageOverlay:
    """Return an overlay of an image this service serves (folium reads a relative URL as a file)."""
    overlay = folium.raster_layers.ImageOverlay("data:image/png;base64,", **options)
    overlay.url = url
    return overlay


def _points(frame: gpd.GeoDataFrame) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    pts = frame.to_crs(4326).geometry
    return pts.y.round(6).to_numpy(), pts.x.round(6).to_numpy()


def service_map(
    layers: ServiceMapLayers,
    *,
    title: str,
    indicator: str = "mobile",
    static_url: str = "/static",
    online_tiles: bool = False,
) -> str:
    """Build the HTML map page of one scenario.

    Parameters
    ----------
    layers
        The layers to draw (EPSG:4326).
    title
        Page title.
    indicator
        ``mobile``, ``5g`` or ``ftth``: the coverage that colours the villages.
    static_url
        Where the service serves its static assets.
    online_tiles
        Whether to offer OpenStreetMap tiles as an (unselected) base layer.

    Returns
    -------
    str
        The HTML page. It loads scripts and styles only from `static_url`, and images only
        from the service (the overlays' URLs); with `online_tiles`, tiles from OpenStreetMap
        once the user picks that base layer.

    Raises
    ------
    RuntimeError
        If the page would load anything from another host (a folium default gone unnoticed).
    """
    villages = layers.villages.to_crs(4326)
    column = INDICATOR_COLUMN[indicator]
    minx, miny, maxx, maxy = villages.total_bounds
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_start=10,
        zoom_snap=0.25,
        prefer_canvas=False,
        control_scale=True,
    )
    # Without a tile layer the map itself must know its zoom range (marker clusters need it).
    fmap.options["max_zoom"] = 18
    fmap.options["min_zoom"] = 5
    fmap.default_js = []
    fmap.default_css = []
    root: Any = fmap.get_root()
    root.header.add_child(
        Element(
            f"<title>{html.escape(title)}</title>\n"
            f'<link rel="stylesheet" href="{static_url}/leaflet/leaflet.css">\n'
            f'<link rel="stylesheet" href="{static_url}/markercluster/MarkerCluster.css">\n'
            f'<link rel="stylesheet" href="{static_url}/markercluster/MarkerCluster.Default.css">\n'
            f'<script src="{static_url}/leaflet/leaflet.js"></script>\n'
            f'<script src="{static_url}/markercluster/leaflet.markercluster.js"></script>\n'
            f"<script>L.Icon.Default.imagePath = '{static_url}/leaflet/images/';</script>\n"
            + _PAGE_CSS
            + _LANG_SCRIPT
        )
    )

    # Base layers: hillshade or plain; tiles only when configured.
    base = folium.FeatureGroup(
        name=bilingual("Nền địa hình", "Hillshade"), overlay=False, control=True
    )
    if layers.hillshade is not None:
        _image_overlay(
            layers.hillshade.url,
            bounds=[list(layers.hillshade.bounds[0]), list(layers.hillshade.bounds[1])],
            opacity=layers.hillshade.opacity,
            interactive=False,
            zindex=1,
        ).add_to(base)
    base.add_to(fmap)
    folium.FeatureGroup(name=bilingual("Nền trắng", "Plain"), overlay=False, show=False).add_to(
        fmap
    )
    if online_tiles:
        folium.TileLayer(
            "OpenStreetMap",
            name=bilingual("Bản đồ trực tuyến (OSM)", "Online map (OSM)"),
            overlay=False,
            show=False,
        ).add_to(fmap)

    if layers.coverage_raster is not None:
        group = folium.FeatureGroup(
            name=bilingual(layers.coverage_raster.label_vi, layers.coverage_raster.label_en),
            show=False,
        )
        _image_overlay(
            layers.coverage_raster.url,
            bounds=[list(layers.coverage_raster.bounds[0]), list(layers.coverage_raster.bounds[1])],
            opacity=layers.coverage_raster.opacity,
            interactive=False,
            zindex=2,
        ).add_to(group)
        group.add_to(fmap)

    for level, weight, colour in (("district", 2.5, "#333333"), ("commune", 0.8, "#777777")):
        outlines = admin_boundaries(villages, level)
        if outlines is None:
            continue
        label = {
            "district": ("Ranh giới huyện", "District boundaries"),
            "commune": ("Ranh giới xã", "Commune boundaries"),
        }[level]
        group = folium.FeatureGroup(name=bilingual(*label), show=True)
        folium.GeoJson(
            _light(outlines, 0.0005, [level]),
            style_function=lambda _f, w=weight, c=colour: {"color": c, "weight": w, "fill": False},
            tooltip=folium.GeoJsonTooltip(fields=[level], labels=False),
        ).add_to(group)
        group.add_to(fmap)

    if layers.roads is not None and len(layers.roads):
        group = folium.FeatureGroup(name=bilingual("Đường", "Roads"), show=True)
        folium.GeoJson(
            _light(_grouped(layers.roads, ["highway"]), 0.0002, ["highway"]),
            style_function=lambda f: {
                "color": "#b07a3b",
                "weight": 2.5 if f["properties"].get("highway") in ("primary", "secondary") else 1,
                "opacity": 0.8,
            },
        ).add_to(group)
        group.add_to(fmap)

    fields = [f for f in _popup_fields(indicator) if f[0] in villages]
    columns = [c for c, _, _ in fields]
    aliases = [bilingual(vi, en) for _, vi, en in fields]
    status = (
        villages[column].fillna(False).astype(bool).to_numpy()
        if column in villages
        else np.zeros(len(villages), dtype=bool)
    )
    vi_ind, en_ind = INDICATOR_LABEL[indicator]
    for state, mask in (("covered", status), ("uncovered", ~status)):
        part = villages[mask]
        if not len(part):
            continue
        name = (
            bilingual(f"Thôn chưa có {vi_ind}", f"Villages without {en_ind}")
            if state == "uncovered"
            else bilingual(f"Thôn đã có {vi_ind}", f"Villages with {en_ind}")
        )
        group = folium.FeatureGroup(name=name, show=True)
        style = STATUS_STYLE[state]
        folium.GeoJson(
            _light(part, 0.0002 if state == "uncovered" else 0.0005, columns),
            style_function=lambda _f, s=style: s,
            highlight_function=lambda _f: {"weight": 3, "color": "#000000"},
            popup=folium.GeoJsonPopup(fields=columns, aliases=aliases, max_width=360),
            name=f"villages-{state}",
        ).add_to(group)
        group.add_to(fmap)

    if layers.fiber is not None and len(layers.fiber):
        group = folium.FeatureGroup(name=bilingual("Cáp quang", "Fiber"), show=False)
        folium.GeoJson(
            _light(_grouped(layers.fiber, ["operator"]), 0.0003, ["operator"]),
            style_function=lambda f: {
                "color": OPERATOR_COLOURS.get(f["properties"].get("operator"), "#6a3d9a"),
                "weight": 2,
                "opacity": 0.8,
                "dashArray": "4 3",
            },
            tooltip=folium.GeoJsonTooltip(fields=["operator"], labels=False),
        ).add_to(group)
        group.add_to(fmap)

    if layers.access_points is not None and len(layers.access_points):
        group = folium.FeatureGroup(
            name=bilingual("Điểm truy nhập quang", "Fiber access points"), show=False
        )
        folium.GeoJson(
            _light(_grouped(layers.access_points, ["operator", "kind"]), 0.0, ["operator", "kind"]),
            marker=folium.CircleMarker(radius=3, weight=1, color="#222222", fill=True),
            style_function=lambda f: {
                "fillColor": OPERATOR_COLOURS.get(f["properties"].get("operator"), "#555555"),
                "fillOpacity": 0.9,
            },
            tooltip=folium.GeoJsonTooltip(fields=["operator", "kind"], labels=False),
        ).add_to(group)
        group.add_to(fmap)

    operators: list[str] = []
    if layers.sites is not None and len(layers.sites):
        sites = layers.sites.to_crs(4326)
        for op, part in sites.groupby("operator", sort=True):
            operators.append(str(op))
            cluster = MarkerCluster(  # type: ignore[no-untyped-call]
                name=bilingual(f"Trạm BTS {op}", f"{op} BTS sites"),
                options={"disableClusteringAtZoom": 13, "maxClusterRadius": 40},
            )
            cluster.default_js = []
            cluster.default_css = []
            colour = OPERATOR_COLOURS.get(str(op), "#555555")
            lat, lon = _points(part)
            techs = (
                part["tech"].fillna("4G").astype(str).tolist()
                if "tech" in part
                else ["4G"] * len(part)
            )
            ids = part["site_id"].astype(str).tolist()
            for y, x, sid, tech in zip(lat.tolist(), lon.tolist(), ids, techs, strict=True):
                folium.CircleMarker(
                    [y, x],
                    radius=4,
                    color=colour,
                    fill=True,
                    fill_opacity=0.9,
                    weight=1,
                    tooltip=html.escape(f"{op} {sid} ({tech})"),
                ).add_to(cluster)
            cluster.add_to(fmap)

    towers = layers.towers
    if towers is not None and "shared" in towers and towers["shared"].fillna(False).any():
        shared = towers[towers["shared"].fillna(False).astype(bool)]
        group = folium.FeatureGroup(name=bilingual("Trạm dùng chung", "Shared towers"), show=True)
        lat, lon = _points(shared)
        for y, x, ops in zip(
            lat.tolist(), lon.tolist(), shared["operators"].astype(str), strict=True
        ):
            folium.CircleMarker(
                [y, x],
                radius=8,
                color="#000000",
                weight=2,
                fill=False,
                tooltip=html.escape(f"Dùng chung / Shared: {ops}"),
            ).add_to(group)
        group.add_to(fmap)

    root.html.add_child(Element(f'<div id="hts-title" class="hts-box">{html.escape(title)}</div>'))
    root.html.add_child(
        Element(
            '<button id="hts-lang" class="hts-box" type="button">'
            + bilingual("English", "Tiếng Việt")
            + "</button>"
        )
    )
    root.html.add_child(Element(_legend(indicator, operators)))
    if layers.kpis is not None:
        root.html.add_child(Element(_kpi_panel(layers.kpis)))
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    page: str = root.render()
    page = page.replace("<html>", '<html lang="vi">', 1)
    outside = [
        load
        for load in find_outside_loads(page)
        if not (online_tiles and "tile.openstreetmap.org" in load)
    ]
    if outside:
        raise RuntimeError(f"map page would load from outside: {outside[0]}")
    return page


def page_summary(page: str) -> dict[str, int]:
    """Sizes of a page, for logs: bytes and number of inline scripts."""
    return {"bytes": len(page.encode("utf-8")), "scripts": page.count("<script")}
