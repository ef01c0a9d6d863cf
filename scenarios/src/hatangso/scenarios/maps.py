"""The map of a scenario's villages, one builder for every page that shows it.

The command line's ``map.html`` (also shown in the reports) and the service's ``/map/{name}``
page are built here, by :func:`village_map`, with one status style, one list of popup fields,
one legend and one KPI panel. They differ only in where the page gets its assets:

- with ``static_url=None`` (the command line), Leaflet and leaflet.markercluster (vendored in
  ``assets/``, BSD-2-Clause and MIT) are carried inline and images are ``data:`` URIs, so the
  page is one self-contained file that loads nothing;
- with ``static_url="/static"`` (the service), the page links the same vendored files, which the
  service serves, and its images are URLs of the service.

No tile server is needed: administrative boundaries dissolved from the villages (or, for point
villages, from their Voronoi cells), roads and a hillshade drawn as an image are the base map.
OpenStreetMap tiles are offered only when asked (``online_tiles``). Sites are coloured per
operator (:func:`operator_colours`), and the legend lists them; the received-power image comes
with its dBm colour bar, shown while the image is. Labels are Vietnamese, each with its
English twin; a button switches the page between them (``?lang=en`` opens it in English).
The images themselves (hillshade, received power) are rendered by
:mod:`hatangso.coverage.overlays`.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from hatangso.coverage.overlays import POWER_SPAN_DB, LatLonBounds, power_colours
from hatangso.geo.techs import SWITCH_OFF_STEPS
from hatangso.scenarios.mapdata import Payload, escaped, map_payload

log = logging.getLogger(__name__)

__all__ = [
    "COMMITMENT_COLOURS",
    "COMPACT_ABOVE",
    "HILLSHADE_LABEL",
    "INDICATOR_COLUMN",
    "IOT_ZONE_COLOURS",
    "MAST_STATUS_COLOURS",
    "OPERATOR_COLOURS",
    "POPUP_FIELDS",
    "POWER_LABEL",
    "ROAD_CLASSES",
    "STATUS_STYLE",
    "DbmScale",
    "MapLayers",
    "Overlay",
    "admin_boundaries",
    "bilingual",
    "find_outside_loads",
    "is_large",
    "kpi_cells",
    "operator_colours",
    "popup_fields",
    "read_boundaries",
    "read_road_lines",
    "village_map",
]

OPERATOR_COLOURS = {
    "Viettel": "#e4002b",
    "VNPT": "#0066b3",
    "MobiFone": "#f39200",
    "Vietnamobile": "#7b2d8e",
    "Gmobile": "#2e7d32",
}
#: Colours of the other operators, given in their sorted order (none is a known operator's).
_OTHER_OPERATOR_COLOURS = (
    "#1b9e77",
    "#d95f02",
    "#e7298a",
    "#66a61e",
    "#a6761d",
    "#17becf",
    "#8c564b",
    "#bcbd22",
    "#393b79",
    "#637939",
)
#: Fill and outline of a village by its coverage status.
STATUS_STYLE = {
    "uncovered": {"fillColor": "#d7301f", "color": "#7f0000", "weight": 1, "fillOpacity": 0.7},
    "covered": {"fillColor": "#a1d99b", "color": "#41ab5d", "weight": 0.5, "fillOpacity": 0.35},
}
_DISPUTED_STYLE = {"color": "#6a00a8", "weight": 2.5, "fillOpacity": 0.0, "dashArray": "5 4"}
#: Outline of a village with a challenge to its status (open, answered or decided), and the
#: radius of the ring around a point village: the one style of the Folium and the canvas maps.
_CHALLENGED_STYLE = {"color": "#ff7f00", "weight": 3.5, "fillOpacity": 0.0}
_CHALLENGED_RADIUS = 10
#: Outline of a village that loses all mobile service when 2G (then 2G and 3G) is switched
#: off, the ring around a point village, its name and its legend swatch: the one style of the
#: Folium and the canvas maps. Unfilled, so a click inside reaches the village's own layer
#: (whose popup names the step too).
_SWITCH_OFF_STYLE = {"color": "#252525", "weight": 3, "fill": False, "dashArray": "2 4"}
_SWITCH_OFF_RADIUS = 13
_SWITCH_OFF_LABEL = (
    "Thôn mất sóng khi tắt 2G / 2G+3G",
    "Villages losing mobile service when 2G / 2G+3G is off",
)
_SWITCH_OFF_SWATCH = "border:3px dotted {colour}"
#: The switch-off steps (:data:`hatangso.geo.techs.SWITCH_OFF_STEPS`): the village column of
#: the loss and the step's name in the popup (``2G``, ``2G + 3G``), first step first.
_SWITCH_OFF_STEPS = tuple((column, " + ".join(off)) for _, off, column, _ in SWITCH_OFF_STEPS)
#: The village column that decides the status, per indicator.
INDICATOR_COLUMN = {"mobile": "covered_mobile", "5g": "covered_5g", "ftth": "covered_ftth"}
_INDICATOR_LABEL = {
    "mobile": ("băng rộng di động", "mobile broadband"),
    "5g": ("5G", "5G"),
    "ftth": ("cáp quang FTTH", "FTTH fiber"),
}
#: A village's popup: ``(column, Vietnamese label, English label)``, shown when the column is
#: there. ``{reason}`` is ``mobile_reason``, or ``ftth_reason`` on the FTTH map.
POPUP_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("name", "Thôn", "Village"),
    ("commune", "Xã", "Commune"),
    ("district", "Huyện", "District"),
    ("population", "Dân số", "Population"),
    ("nearest_site_m", "Trạm gần nhất (m)", "Nearest site (m)"),
    ("serving_operators", "Nhà mạng phục vụ", "Serving operators"),
    ("switch_off", "Mất hết sóng di động khi tắt", "Loses all mobile service when off"),
    ("pred_dl_mbps", "Tốc độ tải xuống dự báo (Mb/s)", "Predicted download (Mb/s)"),
    ("{reason}", "Lý do chưa phủ", "Why uncovered"),
    ("mobile_basis", "Căn cứ", "Basis"),
    ("measured_availability", "Tỷ lệ mẫu đạt", "Measured availability"),
    ("n_samples", "Số mẫu đo", "Samples"),
    ("declared_operators", "Nhà mạng công bố", "Declared by"),
    ("challenge", "Khiếu nại", "Challenge"),
    ("challenge_id", "Mã khiếu nại đã quyết định", "Decided challenge"),
    ("ftth_distance_m", "Cáp quang gần nhất (m)", "Nearest fiber (m)"),
)


#: Colour of a registry mast by its status.
MAST_STATUS_COLOURS = {
    "planned": "#9e9ac8",
    "permitted": "#3182bd",
    "built": "#252525",
    "dismantled": "#bdbdbd",
}
_MAST_STATUS_LABEL = {
    "planned": ("Cột quy hoạch", "Planned mast"),
    "permitted": ("Cột đã cấp phép", "Permitted mast"),
    "built": ("Cột đã xây dựng", "Built mast"),
    "dismantled": ("Cột đã tháo dỡ", "Dismantled mast"),
}
#: Colour of a commitment on its village by its state.
COMMITMENT_COLOURS = {"done": "#1a9850", "due": "#fee08b", "overdue": "#d73027"}
_COMMITMENT_LABEL = {
    "done": ("Cam kết đã hoàn thành", "Commitment done"),
    "due": ("Cam kết chưa đến hạn", "Commitment due"),
    "overdue": ("Cam kết quá hạn", "Commitment overdue"),
}

#: Colour of a village's predicted downlink class (:func:`speed_classes`).
SPEED_COLOURS = {
    "none": "#67000d",
    "below": "#ef3b2c",
    "target": "#74c476",
    "double": "#006d2c",
}
_SPEED_LABEL = {
    "none": ("Không có tốc độ dự báo (SINR dưới -10 dB)", "No predicted speed (SINR below -10 dB)"),
    "below": ("Tốc độ dự báo dưới mục tiêu", "Predicted below the target"),
    "target": ("Tốc độ dự báo đạt mục tiêu", "Predicted at the target"),
    "double": ("Tốc độ dự báo từ hai lần mục tiêu", "Predicted at twice the target or more"),
}

#: Colour of an IoT zone (industrial park, production zone) by its answer.
IOT_ZONE_COLOURS = {"covered": "#2166ac", "uncovered": "#e66101"}
_IOT_ZONE_LABEL = {
    "covered": ("Khu công nghiệp, vùng sản xuất có IoT", "IoT zone covered"),
    "uncovered": ("Khu công nghiệp, vùng sản xuất chưa có IoT", "IoT zone not covered"),
}
_IOT_KIND_LABEL = {
    "industrial_park": "Khu công nghiệp / Industrial park",
    "production_zone": "Vùng sản xuất / Production zone",
}

#: Layer-control names ``(Vietnamese, English)`` of the two images a map may carry.
HILLSHADE_LABEL = ("Địa hình", "Hillshade")
POWER_LABEL = ("Vùng phủ sóng (địa hình)", "Terrain coverage")


def operator_colours(operators: Any) -> dict[str, str]:
    """Return a distinct colour for each operator of `operators` (any iterable of names).

    The five Vietnamese operators keep their brand colours (:data:`OPERATOR_COLOURS`); the
    others take, in their sorted order, colours of a palette none of those use, and share one
    only past its ten colours.

    Examples
    --------
    >>> operator_colours(["Viettel", "Tower Co", "VNPT"])
    {'Tower Co': '#1b9e77', 'VNPT': '#0066b3', 'Viettel': '#e4002b'}
    """
    names = sorted({str(op) for op in operators})
    others = [op for op in names if op not in OPERATOR_COLOURS]
    palette = _OTHER_OPERATOR_COLOURS
    given = {op: palette[i % len(palette)] for i, op in enumerate(others)}
    return {op: OPERATOR_COLOURS.get(op) or given[op] for op in names}


def _inert(text: str) -> str:
    """Write the ``{`` of jinja's openers (``{{``, ``{%``, ``{#``) as an HTML entity.

    folium renders some texts through jinja on the server (layer names, tooltips): a name from
    the input holding template code would be run there. The browser shows the same text.
    """
    return re.sub(r"\{(?=[{%#])", "&#123;", text)


def bilingual(vi: str, en: str) -> str:
    """Return a label shown in Vietnamese or English by the page's language switch."""
    return _inert(
        f'<span class="vi">{html.escape(vi)}</span><span class="en">{html.escape(en)}</span>'
    )


@dataclass(frozen=True)
class DbmScale:
    """The dBm scale of a received-power image.

    As :func:`~hatangso.coverage.overlays.power_png` paints it: transparent below
    `threshold_dbm`, yellow at it, dark green from ``threshold_dbm + span_db`` up.
    """

    threshold_dbm: float
    span_db: float = POWER_SPAN_DB


@dataclass(frozen=True)
class Overlay:
    """An image drawn over the map.

    Attributes
    ----------
    url
        Where the image is: a URL of the service, or a ``data:`` URI for a page that must load
        nothing (:func:`hatangso.coverage.overlays.data_uri`).
    bounds
        ``((south, west), (north, east))`` in degrees.
    label_vi, label_en
        Its name in the layer control.
    opacity
        Opacity of the image.
    show
        Whether it is switched on when the page opens.
    scale
        The dBm scale of a received-power image: the page shows its colour bar while the image
        is shown.
    """

    url: str
    bounds: LatLonBounds
    label_vi: str
    label_en: str
    opacity: float = 0.6
    show: bool = False
    scale: DbmScale | None = None


@dataclass(frozen=True)
class MapLayers:
    """What one map shows; every layer but the villages is optional (any CRS; drawn in 4326).

    `hillshade` is a base layer; `power` (the terrain model's received power) an overlay.
    `boundaries` are admin units read from a file (polygons or lines, with a ``name``, ``commune``
    or ``district`` column shown as their tooltip when there is one); without them the commune
    and district outlines are drawn from the villages' ``commune`` and ``district`` columns.
    `masts` is the mast registry (coloured by ``status``); `commitments` are the operators'
    commitments placed on their villages, with their ``status`` (``done``, ``due``,
    ``overdue``). `iot_zones` are the industrial parks and production zones with their IoT
    answer (:attr:`hatangso.coverage.iot.IotZones.zones`: ``iot_share``, ``covered_iot``).
    `village_lonlat` is the ``(n, 2)`` longitude and latitude of a point on each village's
    surface, as the engine took them (None: taken here).
    """

    villages: gpd.GeoDataFrame
    kpis: Mapping[str, Any] | None = None
    sites: gpd.GeoDataFrame | None = None
    towers: gpd.GeoDataFrame | None = None
    access_points: gpd.GeoDataFrame | None = None
    fiber: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    hillshade: Overlay | None = None
    power: Overlay | None = None
    boundaries: gpd.GeoDataFrame | None = None
    masts: gpd.GeoDataFrame | None = None
    commitments: gpd.GeoDataFrame | None = None
    iot_zones: gpd.GeoDataFrame | None = None
    village_lonlat: npt.NDArray[np.float64] | None = None


# --------------------------------------------------------------------------------------------
# Assets: inline for a self-contained page, or linked from the service
# --------------------------------------------------------------------------------------------


def _assets() -> Any:
    return resources.files("hatangso.scenarios") / "assets"


@lru_cache(maxsize=1)
def _inline_assets() -> str:
    """Leaflet and leaflet.markercluster as inline ``<style>`` and ``<script>`` elements."""
    leaflet = _assets() / "leaflet"
    cluster = _assets() / "markercluster"

    def image(match: re.Match[str]) -> str:
        data = (leaflet / "images" / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    def icon(match: re.Match[str]) -> str:
        data = (leaflet / "images" / match.group(1)).read_bytes()
        return f'"data:image/png;base64,{base64.b64encode(data).decode("ascii")}"'

    css = re.sub(
        r"url\(images/([\w\-@.]+\.png)\)", image, (leaflet / "leaflet.css").read_text("utf-8")
    )
    css += (cluster / "MarkerCluster.css").read_text("utf-8")
    css += (cluster / "MarkerCluster.Default.css").read_text("utf-8")
    # Leaflet's default marker names its images relative to the page, where a lone map.html has
    # none: they are carried as data: URIs, and the image path (prefixed to them) is empty.
    js = re.sub(r'"(marker-[\w\-]+\.png)"', icon, (leaflet / "leaflet.js").read_text("utf-8"))
    js += "\nL.Icon.Default.imagePath = '';\n"
    cluster_js = (cluster / "leaflet.markercluster.js").read_text("utf-8")
    return f"<style>{css}</style>\n<script>{js}</script>\n<script>{cluster_js}</script>\n"


def _linked_assets(static_url: str) -> str:
    return (
        f'<link rel="stylesheet" href="{static_url}/leaflet/leaflet.css">\n'
        f'<link rel="stylesheet" href="{static_url}/markercluster/MarkerCluster.css">\n'
        f'<link rel="stylesheet" href="{static_url}/markercluster/MarkerCluster.Default.css">\n'
        f'<script src="{static_url}/leaflet/leaflet.js"></script>\n'
        f'<script src="{static_url}/markercluster/leaflet.markercluster.js"></script>\n'
        f"<script>L.Icon.Default.imagePath = '{static_url}/leaflet/images/';</script>\n"
    )


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
             max-height:calc(45vh - 40px); overflow:auto}
  /* The layer list shares the right edge with the KPI panel: it keeps the upper 55 % of the
     height (less its 10 px margins), the panel the rest above its 24 px, each scrolling what
     does not fit, so neither covers the other at any window size. */
  .leaflet-right .leaflet-control-layers-expanded {font-size:12px; max-height:calc(55vh - 20px);
             overflow-y:auto; box-sizing:border-box}
  #hts-scale {position:absolute; bottom:24px; left:50%; transform:translateX(-50%);
             z-index:1000; width:300px}
  #hts-scale .hts-bar {height:12px; margin:4px 0 2px; border:1px solid #0006}
  #hts-scale .hts-ticks {position:relative; height:14px; margin:0 6px 2px}
  #hts-title {position:absolute; top:10px; left:50%; transform:translateX(-50%); z-index:1000;
              font-weight:bold}
  /* Below about 1,040 px the colour bar would sit on the legend and the KPI panel, which share
     the bottom edge with it: it moves up, under the title, between the language switch and
     the layer list (about 310 px wide). */
  @media (max-width: 1040px) {
    #hts-scale {bottom:auto; top:48px; left:124px; transform:none;
                width:min(300px, calc(100vw - 460px))}
  }
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


# --------------------------------------------------------------------------------------------
# Vector layers
# --------------------------------------------------------------------------------------------


def _light(frame: gpd.GeoDataFrame, tolerance_deg: float, columns: list[str]) -> dict[str, Any]:
    """GeoJSON of simplified geometries, coordinates rounded to 1e-5 degree (about 1 m).

    No bounding boxes (folium would add one per feature): the page stays small. Floats are
    rounded to whole numbers but for shares (``measured_availability``, two decimals); missing
    values are shown as blanks. Text is HTML-escaped: folium's popups and tooltips insert the
    properties into the page as markup, so a name from the input must not carry any.
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
            values = values.round(2 if column == "measured_availability" else 0)
        elif pd.api.types.infer_dtype(values, skipna=True) in _TEXT_KINDS:
            values = escaped(values)
        out[column] = values.astype(object).where(values.notna(), "")
    document: dict[str, Any] = json.loads(out.to_json(drop_id=True))
    return document


#: Kinds of column (``pandas.api.types.infer_dtype``) that hold text.
_TEXT_KINDS = ("string", "mixed", "mixed-integer")


def _tooltip_text(text: str) -> str:
    """Escape `text` for a marker's tooltip.

    folium writes it unquoted into a JavaScript template literal that becomes markup, so
    besides HTML, the literal's own specials (backslash, backtick, ``$``) are escaped too, and
    jinja's openers (:func:`_inert`).
    """
    escaped = html.escape(text)
    return _inert(escaped.replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;"))


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
    """Outlines of the admin units of `level`, dissolved from the villages.

    Village polygons are dissolved as they are. Point villages (when no village is a polygon)
    stand for the area nearest to them: their Voronoi cells, within 2 km of the villages'
    convex hull, are dissolved instead, so communes and districts get approximate outlines
    that still separate their villages.

    Returns
    -------
    geopandas.GeoDataFrame or None
        One row per unit: the `level` column and its outline (lines); None when the villages
        have no `level` column, no value in it, or no geometry to draw from.
    """
    if level not in villages or not villages[level].notna().any():
        return None
    polygonal = villages.geom_type.isin(["Polygon", "MultiPolygon"])
    if polygonal.any():
        areas = villages[polygonal]
    else:
        areas = _point_cells(villages)
        if areas is None:
            return None
    areas = areas[areas[level].notna()]
    merged = areas[[level, areas.geometry.name]].dissolve(by=level, as_index=False)
    merged = merged.set_geometry(shapely.boundary(np.asarray(merged.geometry.array, dtype=object)))
    return merged


def _point_cells(villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame | None:
    """Return the Voronoi cell of each point village (EPSG:4326, other columns kept).

    Cells are computed in the villages' UTM zone and clipped to their convex hull grown by
    2 km; points sharing a place share its cell.
    """
    points = villages[villages.geom_type.isin(["Point", "MultiPoint"]) & ~villages.is_empty]
    if len(points) < 2 or points.crs is None:
        return None
    metric = points.estimate_utm_crs()
    xy = np.asarray(points.to_crs(metric).geometry.representative_point().array, dtype=object)
    every = shapely.multipoints(xy)
    hull = shapely.buffer(shapely.convex_hull(every), 2000.0)
    cells = shapely.get_parts(shapely.voronoi_polygons(every, extend_to=hull))
    village_at, cell_at = shapely.STRtree(cells).query(xy, predicate="within")
    clipped = shapely.intersection(cells[cell_at], hull)
    frame = points.drop(columns=points.geometry.name).iloc[village_at]
    return gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=clipped, crs=metric).to_crs(4326)


def _reason_column(indicator: str) -> str:
    """Return the village column saying why a village lacks `indicator` (the popup's reason)."""
    return "ftth_reason" if indicator == "ftth" else "mobile_reason"


def popup_fields(villages: pd.DataFrame, indicator: str = "mobile") -> list[tuple[str, str, str]]:
    """Return the popup fields of :data:`POPUP_FIELDS` that `villages` has, for `indicator`."""
    reason = _reason_column(indicator)
    fields = [(reason if c == "{reason}" else c, vi, en) for c, vi, en in POPUP_FIELDS]
    return [f for f in fields if f[0] in villages]


# --------------------------------------------------------------------------------------------
# Panels
# --------------------------------------------------------------------------------------------


def kpi_cells(indicator: Mapping[str, Any]) -> tuple[str, str, str]:
    """Format an indicator of ``kpis.json`` for a table: value, target and met mark.

    Examples
    --------
    >>> kpi_cells({"value": 0.969, "target": 1.0, "met": False})
    ('96.9%', '100%', '✘')
    """
    value, target, met = indicator.get("value"), indicator.get("target"), indicator.get("met")
    shown = "—" if value is None else f"{value * 100:.1f}%"
    goal = "" if target is None else f"{target * 100:.0f}%"
    mark = "" if met is None else ("✔" if met else "✘")
    return shown, goal, mark


def _kpi_panel(kpis: Mapping[str, Any]) -> str:
    rows = []
    for ind in kpis.get("indicators", []):
        shown, goal, mark = kpi_cells(ind)
        label = bilingual(str(ind.get("label_vi", "")), str(ind.get("label_en", "")))
        rows.append(f"<tr><td>{label}</td><td>{shown}</td><td>{goal}</td><td>{mark}</td></tr>")
    head = (
        f"<tr><th>{bilingual('Chỉ tiêu', 'Indicator')}</th>"
        f"<th>{bilingual('Giá trị', 'Value')}</th>"
        f"<th>{bilingual('Mục tiêu', 'Target')}</th><th>{bilingual('Đạt', 'Met')}</th></tr>"
    )
    return f'<div id="hts-kpis" class="hts-box"><table>{head}{"".join(rows)}</table></div>'


def _legend(
    indicator: str,
    operators: Mapping[str, str],
    *,
    disputed: bool,
    shared: bool,
    fiber: bool,
    states: Collection[str],
    extra: tuple[str, ...] = (),
    challenged: bool = False,
) -> str:
    """Return the legend's HTML: a key for each thing the map draws, and for nothing else.

    `states` are the villages' coverage states on the map (``covered``, ``uncovered``): a map
    whose villages are all covered keys no uncovered village.
    """
    vi, en = _INDICATOR_LABEL[indicator]
    items = [
        f"<b>{bilingual('Chú giải', 'Legend')}</b>",
        *_legend_keys(
            {state: str(STATUS_STYLE[state]["fillColor"]) for state in ("uncovered", "covered")},
            {
                "uncovered": (f"Thôn chưa có {vi}", f"Village without {en}"),
                "covered": (f"Thôn đã có {vi}", f"Village with {en}"),
            },
            states,
            swatch="background:{colour}",
        ),
    ]
    if disputed:
        items.append(
            f'<span class="hts-swatch" style="border:2px dashed {_DISPUTED_STYLE["color"]}">'
            "</span>" + bilingual("Thôn có tranh chấp", "Disputed village")
        )
    if challenged:
        items.append(
            f'<span class="hts-swatch" style="border:3px solid {_CHALLENGED_STYLE["color"]}">'
            "</span>" + bilingual("Thôn bị khiếu nại", "Challenged village")
        )
    if shared:
        items.append(
            '<span class="hts-swatch" style="border:2px solid black;border-radius:50%"></span>'
            + bilingual("Trạm dùng chung", "Shared tower")
        )
    if fiber:  # its layer starts off; drawn dashed in each operator's colour
        items.append(
            f'<span id="{_FIBER_KEY_ID}" style="display:none">'
            '<span class="hts-swatch" style="border-top:2px dashed #555;height:0"></span>'
            + bilingual("Cáp quang (màu của nhà mạng)", "Fiber (in its operator's colour)")
            + "</span>"
        )
    for op, colour in operators.items():
        items.append(
            f'<span class="hts-swatch" style="background:{colour};border-radius:50%"></span>'
            + bilingual(f"Trạm BTS {op}", f"{op} BTS site")
        )
    items.extend(extra)
    return '<div id="hts-legend" class="hts-box">' + "<br>".join(items) + "</div>"


def _image_overlay(overlay: Overlay, *, zindex: int) -> folium.raster_layers.ImageOverlay:
    """Return an image overlay of `overlay`'s URL (folium would read a relative URL as a file)."""
    image = folium.raster_layers.ImageOverlay(
        "data:image/png;base64,",
        bounds=[list(overlay.bounds[0]), list(overlay.bounds[1])],
        opacity=overlay.opacity,
        interactive=False,
        zindex=zindex,
    )
    image.url = overlay.url
    return image


def _points(frame: gpd.GeoDataFrame) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    pts = frame.to_crs(4326).geometry
    return pts.y.round(6).to_numpy(), pts.x.round(6).to_numpy()


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def village_map(
    layers: MapLayers,
    *,
    title: str,
    indicator: str = "mobile",
    static_url: str | None = None,
    online_tiles: bool = False,
    compact: bool | None = None,
) -> str:
    """Build the HTML map page of the villages, coloured by coverage status.

    Parameters
    ----------
    layers
        The layers to draw.
    title
        Page title.
    indicator
        ``mobile``, ``5g`` or ``ftth``: the coverage that colours the villages.
    static_url
        Where a service serves the vendored assets (``/static``); None carries them inline,
        for a self-contained file.
    online_tiles
        Whether to offer OpenStreetMap tiles as an (unselected) base layer.
    compact
        Whether to draw the villages, sites and shared towers as points on canvases fed from
        one compact payload (:mod:`hatangso.scenarios.mapdata`) instead of one element per
        feature; None (the default) decides by size (:func:`is_large`).

    Returns
    -------
    str
        The HTML page. Without `static_url` it loads nothing at all (its images must then be
        ``data:`` URIs); with it, scripts and styles come only from `static_url` and images
        from the overlays' URLs; with `online_tiles`, tiles from OpenStreetMap once the user
        picks that base layer.

    Raises
    ------
    RuntimeError
        If the page would load anything from another host (a folium default gone unnoticed).
    """
    villages = layers.villages.to_crs(4326) if layers.villages.crs is not None else layers.villages
    villages = _basis_named(_speed_where_covered(_with_switch_off(villages)))
    villages = _reasons_where_uncovered(villages, indicator)
    compact = is_large(layers) if compact is None else compact
    fmap = _blank_map(villages, title=title, static_url=static_url)
    _add_base_layers(fmap, layers, online_tiles=online_tiles)
    payload = None
    if compact:
        payload = _add_payload(fmap, villages, layers, indicator=indicator, static_url=static_url)
    else:
        _add_admin_boundaries(fmap, villages, layers.boundaries)
    if layers.roads is not None and len(layers.roads):
        _add_roads(fmap, layers.roads)
    challenged = False
    if payload is None:
        disputed = _add_villages(fmap, villages, indicator)
        challenged = _add_challenged(fmap, villages, indicator)
    else:
        disputed = _add_compact_villages(fmap, payload, indicator)
        challenged = _add_compact_challenged(fmap, payload)
    status = _flag(villages, INDICATOR_COLUMN[indicator])
    states = {state for state, seen in (("covered", status), ("uncovered", ~status)) if seen.any()}
    lost = _add_switch_off(fmap, villages, indicator, payload)
    colours = _colours(layers)
    fiber = _add_fiber(fmap, layers, colours)
    if payload is None:
        operators = _add_sites(fmap, layers.sites, colours)
        shared = _add_shared_towers(fmap, layers.towers)
    else:
        operators = _add_compact_sites(fmap, payload, colours)
        shared = payload.payload.towers
    keys = (
        *lost,
        *_add_masts(fmap, layers.masts),
        *_add_commitments(fmap, layers.commitments),
        *_add_iot_zones(fmap, layers.iot_zones),
        *_add_speed(fmap, villages, layers.kpis, only_slow=payload is not None),
    )
    _add_panels(
        fmap,
        layers.kpis,
        title=title,
        indicator=indicator,
        operators={op: colours[op] for op in operators},
        disputed=disputed,
        shared=shared,
        fiber=fiber,
        states=states,
        keys=keys,
        challenged=challenged,
    )
    return _render(fmap, villages, online_tiles=online_tiles)


def _colours(layers: MapLayers) -> dict[str, str]:
    """Colour every operator of the sites, fiber and access points (one key for all)."""
    names = [
        frame["operator"].dropna().astype(str).unique()
        for frame in (layers.sites, layers.fiber, layers.access_points)
        if frame is not None and "operator" in frame
    ]
    return operator_colours(np.concatenate(names) if names else [])


#: Above this many villages or sites a map is large: its points are drawn on canvases from one
#: compact payload (a page of one element per feature would not open).
COMPACT_ABOVE = 4000


def is_large(layers: MapLayers) -> bool:
    """Whether the map of `layers` has more than :data:`COMPACT_ABOVE` villages or sites."""
    sites = 0 if layers.sites is None else len(layers.sites)
    return max(len(layers.villages), sites) > COMPACT_ABOVE


class _Markup(Element):
    """Markup put in the page as it is.

    An ``Element`` reads its text as a jinja template: a title or a label from the input
    holding ``{{ ... }}`` would be run on the server. Escaping for HTML leaves braces alone.
    """

    _template = Template("{{ this.markup }}")

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.markup = markup


class _CanvasPoints(folium.map.Layer):
    """Points of the page's payload drawn on a canvas (``assets/hatangso/points.js``)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = hatangso.points("
        "{{ this.source|tojson }}, {{ this.spec|tojson }});"
        "{% endmacro %}"
    )

    def __init__(self, source: str, spec: dict[str, Any], *, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CanvasPoints"
        self.source = source
        self.spec = spec


@dataclass(frozen=True)
class _PagePayload:
    """The payload carried by a page and the id of the element that holds it."""

    element_id: str
    payload: Payload


_COMPACT_CSS = """
<style>
  .hts-popup th {text-align:left; padding:1px 8px 1px 0; vertical-align:top}
  .hts-popup td {padding:1px 0}
</style>
"""


def _compact_assets(static_url: str | None) -> str:
    """Return the canvas layers' script, inline or linked from the service."""
    if static_url is not None:
        return f'<script src="{static_url}/hatangso/points.js"></script>\n' + _COMPACT_CSS
    script = (_assets() / "hatangso" / "points.js").read_text("utf-8")
    return f"<script>{script}</script>\n" + _COMPACT_CSS


def _add_payload(
    fmap: folium.Map,
    villages: gpd.GeoDataFrame,
    layers: MapLayers,
    *,
    indicator: str,
    static_url: str | None,
) -> _PagePayload:
    """Pack the villages, sites and shared towers into the page (base64 in a data element)."""
    fields = popup_fields(villages, indicator)
    payload = map_payload(
        villages,
        status=_flag(villages, INDICATOR_COLUMN[indicator]),
        disputed=_flag(villages, "disputed"),
        fields=[(column, bilingual(vi, en)) for column, vi, en in fields],
        sites=layers.sites,
        towers=layers.towers,
        tower_prefix=html.escape("Dùng chung / Shared: "),
        challenge=villages["challenge"] if "challenge" in villages else None,
        switch_off=villages["switch_off"] if "switch_off" in villages else None,
        village_lonlat=layers.village_lonlat,
    )
    element_id = f"hts-data-{fmap.get_name()}"
    root: Any = fmap.get_root()
    root.header.add_child(_Markup(_compact_assets(static_url)))
    root.html.add_child(
        _Markup(
            f'<script type="application/octet-stream" id="{element_id}">{payload.base64()}</script>'
        )
    )
    return _PagePayload(element_id, payload)


def _add_compact_villages(fmap: folium.Map, page: _PagePayload, indicator: str) -> bool:
    """Add the covered, uncovered and disputed villages as canvas points; return any disputed."""
    vi_ind, en_ind = _INDICATOR_LABEL[indicator]
    names = {
        "covered": bilingual(f"Thôn đã có {vi_ind}", f"Villages with {en_ind}"),
        "uncovered": bilingual(f"Thôn chưa có {vi_ind}", f"Villages without {en_ind}"),
    }
    # A point shows less colour than a polygon: drawn more opaque than the polygons' fill.
    for state, radius, opacity in (("covered", 4, 0.6), ("uncovered", 5, 0.8)):
        style = STATUS_STYLE[state]
        spec = {
            "kind": "villages",
            "status": state,
            "radius": radius,
            "fillColor": style["fillColor"],
            "fillOpacity": opacity,
            "color": style["color"],
            "weight": style["weight"],
            "shrink": state == "covered",
        }
        _CanvasPoints(page.element_id, spec, name=names[state]).add_to(fmap)
    if page.payload.disputed:
        spec = {
            "kind": "villages",
            "status": "disputed",
            "radius": 8,
            "fill": False,
            "color": _DISPUTED_STYLE["color"],
            "weight": _DISPUTED_STYLE["weight"],
            "dashArray": [5, 4],
        }
        _CanvasPoints(
            page.element_id, spec, name=bilingual("Thôn có tranh chấp", "Disputed villages")
        ).add_to(fmap)
    return page.payload.disputed


def _add_compact_challenged(fmap: folium.Map, page: _PagePayload) -> bool:
    """Ring the challenged villages on a canvas, as the Folium map outlines them."""
    if not page.payload.challenged:
        return False
    spec = {
        "kind": "villages",
        "status": "challenged",
        "radius": _CHALLENGED_RADIUS,
        "fill": False,
        "color": _CHALLENGED_STYLE["color"],
        "weight": _CHALLENGED_STYLE["weight"],
    }
    _CanvasPoints(
        page.element_id, spec, name=bilingual("Thôn bị khiếu nại", "Challenged villages")
    ).add_to(fmap)
    return True


def _add_compact_sites(
    fmap: folium.Map, page: _PagePayload, colours: Mapping[str, str]
) -> list[str]:
    """Add one clustered canvas layer of sites per operator, in its colour, and the towers."""
    for code, op in enumerate(page.payload.operators):
        colour = colours.get(op, "#555555")
        spec = {
            "kind": "sites",
            "operator": code,
            "radius": 4,
            "fillColor": colour,
            "fillOpacity": 0.9,
            "color": colour,
            "weight": 1,
            "clusterBelow": 13,
            "clusterPixels": 60,
            "label": html.escape(f"{op} BTS"),
        }
        # Switched off when the page opens: over a whole country the clusters would hide the
        # villages, which the map is about; the layer control switches them on.
        _CanvasPoints(
            page.element_id,
            spec,
            name=bilingual(f"Trạm BTS {op}", f"{op} BTS sites"),
            show=False,
        ).add_to(fmap)
    if page.payload.towers:
        spec = {"kind": "towers", "radius": 8, "fill": False, "color": "#000000", "weight": 2}
        _CanvasPoints(
            page.element_id, spec, name=bilingual("Trạm dùng chung", "Shared towers")
        ).add_to(fmap)
    return list(page.payload.operators)


def _blank_map(villages: gpd.GeoDataFrame, *, title: str, static_url: str | None) -> folium.Map:
    """Return a map without tiles around `villages`, its page carrying its assets and styles."""
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
    assets = _inline_assets() if static_url is None else _linked_assets(static_url)
    root.header.add_child(
        _Markup(f"<title>{html.escape(title)}</title>\n" + assets + _PAGE_CSS + _LANG_SCRIPT)
    )
    return fmap


def _add_base_layers(fmap: folium.Map, layers: MapLayers, *, online_tiles: bool) -> None:
    """Add the base layers (hillshade or plain; tiles only when asked for) and the power image.

    The hillshade is offered, and selected, only when there is one (a DEM was given); without
    it the plain base is selected, never an empty hillshade.
    """
    if layers.hillshade is not None:
        base = folium.FeatureGroup(
            name=bilingual("Nền địa hình", "Hillshade"), overlay=False, control=True
        )
        _image_overlay(layers.hillshade, zindex=1).add_to(base)
        base.add_to(fmap)
    folium.FeatureGroup(
        name=bilingual("Nền trắng", "Plain"), overlay=False, show=layers.hillshade is None
    ).add_to(fmap)
    if online_tiles:
        folium.TileLayer(
            "OpenStreetMap",
            name=bilingual("Bản đồ trực tuyến (OSM)", "Online map (OSM)"),
            overlay=False,
            show=False,
        ).add_to(fmap)

    if layers.power is not None:
        group = folium.FeatureGroup(
            name=bilingual(layers.power.label_vi, layers.power.label_en), show=layers.power.show
        )
        _image_overlay(layers.power, zindex=2).add_to(group)
        group.add_to(fmap)
        if layers.power.scale is not None:
            _add_power_scale(fmap, group, layers.power)


#: The colour bar's element; the power layer's ``add`` and ``remove`` events show and hide it.
_SCALE_ID = "hts-scale"
_SCALE_TOGGLE = Template(
    """
{% macro script(this, kwargs) %}
(function () {
  var bar = document.getElementById('hts-scale');
  {{ this.group }}.on('add', function () { bar.style.display = 'block'; });
  {{ this.group }}.on('remove', function () { bar.style.display = 'none'; });
})();
{% endmacro %}
"""
)


def _add_power_scale(fmap: folium.Map, group: folium.FeatureGroup, power: Overlay) -> None:
    """Add the dBm colour bar of the power image, shown while the image's layer is."""
    assert power.scale is not None
    root: Any = fmap.get_root()
    root.html.add_child(_Markup(power_scale_panel(power.scale, show=power.show)))
    toggle = MacroElement()  # type: ignore[no-untyped-call]
    toggle._name = "PowerScaleToggle"
    toggle._template = _SCALE_TOGGLE
    toggle.group = group.get_name()  # type: ignore[attr-defined]
    fmap.add_child(toggle)


def power_scale_panel(scale: DbmScale, *, show: bool) -> str:
    """Return the colour bar of received power: its colours, dBm values and the threshold."""
    ticks = np.linspace(scale.threshold_dbm, scale.threshold_dbm + scale.span_db, 5)
    rgb = power_colours(ticks, threshold_dbm=scale.threshold_dbm, span_db=scale.span_db)
    stops = ", ".join(
        f"rgb({r},{g},{b}) {100 * i / (len(ticks) - 1):.0f}%"
        for i, (r, g, b) in enumerate(rgb.T.tolist())
    )
    labels = "".join(
        f'<span style="position:absolute;left:{100 * i / (len(ticks) - 1):.0f}%;'
        f'transform:translateX(-50%)">{value:.0f}</span>'
        for i, value in enumerate(ticks.tolist())
    )
    threshold = f"{scale.threshold_dbm:.0f} dBm"
    return (
        f'<div id="{_SCALE_ID}" class="hts-box" style="display:{"block" if show else "none"}">'
        f"<b>{bilingual('Công suất thu (dBm)', 'Received power (dBm)')}</b>"
        f'<div class="hts-bar" style="background:linear-gradient(to right, {stops})"></div>'
        f'<div class="hts-ticks">{labels}</div>'
        + bilingual(
            f"Ngưỡng phủ sóng {threshold}; dưới ngưỡng: không tô màu",
            f"Coverage threshold {threshold}; below it: no colour",
        )
        + "</div>"
    )


_ADMIN_LEVELS = (
    ("district", 2.5, "#333333", ("Ranh giới huyện", "District boundaries")),
    ("commune", 0.8, "#777777", ("Ranh giới xã", "Commune boundaries")),
)


def _add_admin_boundaries(
    fmap: folium.Map, villages: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame | None
) -> None:
    """Add the admin units of a boundaries file, else the outlines dissolved from the villages."""
    if boundaries is not None and len(boundaries):
        units = boundaries.to_crs(4326) if boundaries.crs is not None else boundaries
        keys = [c for c in ("name", "commune", "district", "province") if c in units][:1]
        group = folium.FeatureGroup(name=bilingual("Ranh giới hành chính", "Boundaries"))
        folium.GeoJson(
            _light(units, 0.0005, keys),
            style_function=lambda _f: {"color": "#555555", "weight": 1.5, "fill": False},
            tooltip=folium.GeoJsonTooltip(fields=keys, labels=False) if keys else None,
        ).add_to(group)
        group.add_to(fmap)
        return
    for level, weight, colour, label in _ADMIN_LEVELS:
        outlines = admin_boundaries(villages, level)
        if outlines is None:
            continue
        group = folium.FeatureGroup(name=bilingual(*label), show=True)
        folium.GeoJson(
            _light(outlines, 0.0005, [level]),
            style_function=lambda _f, w=weight, c=colour: {"color": c, "weight": w, "fill": False},
            tooltip=folium.GeoJsonTooltip(fields=[level], labels=False),
        ).add_to(group)
        group.add_to(fmap)


def _add_roads(fmap: folium.Map, roads: gpd.GeoDataFrame) -> None:
    """Add the roads, one feature per ``highway`` class, main roads drawn wider."""
    group = folium.FeatureGroup(name=bilingual("Đường", "Roads"), show=True)
    folium.GeoJson(
        _light(_grouped(roads.to_crs(4326), ["highway"]), 0.0002, ["highway"]),
        style_function=lambda f: {
            "color": "#b07a3b",
            "weight": 2.5 if f["properties"].get("highway") in ("primary", "secondary") else 1,
            "opacity": 0.8,
        },
    ).add_to(group)
    group.add_to(fmap)


#: Road classes (OSM ``highway``) drawn on the map: the network a planner finds their way by.
ROAD_CLASSES = ("trunk", "primary", "secondary", "tertiary", "unclassified", "residential")


def read_road_lines(path: str | Path) -> gpd.GeoDataFrame | None:
    """Read the roads of a file for the map: OSM XML or PBF, GraphML, GeoPackage or GeoJSON.

    Only the :data:`ROAD_CLASSES` are kept when the file has a ``highway`` column. A file that
    cannot be read gives None (and a warning in the log): a broken road file must not break
    the map, whose other layers do not need it.
    """
    file = Path(path)
    kind = file.suffix.lower()
    try:
        if kind == ".graphml":
            import osmnx

            graph = osmnx.load_graphml(file)
            lines = osmnx.graph_to_gdfs(graph, nodes=False).reset_index(drop=True)
        elif kind in (".osm", ".pbf", ".xml"):
            lines = gpd.read_file(file, layer="lines", engine="pyogrio")
        else:
            lines = gpd.read_file(file, engine="pyogrio")
    except Exception as exc:  # any reader's failure: the map is drawn without roads
        log.warning("roads of %s not drawn on the map: %s", file.name, exc)
        return None
    if "highway" in lines:
        lines = lines[lines["highway"].astype(str).isin(ROAD_CLASSES)]
    return lines


def read_boundaries(path: str | Path, *, crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a file of admin boundaries for the map (polygons or lines, any CRS).

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, Shapefile or any file GDAL reads as vector data.
    crs
        CRS of a file that carries none (as ``--crs`` takes it).

    Returns
    -------
    geopandas.GeoDataFrame
        The file's rows with a polygon or line geometry, in its CRS.

    Raises
    ------
    InputError
        If the file cannot be read, has no CRS and none is given, or holds no polygon or line.
    """
    from hatangso.geo.crs import parse_crs
    from hatangso.geo.errors import InputError, Problem

    file = Path(path)
    try:
        frame = gpd.read_file(file, engine="pyogrio")
    except Exception as exc:  # GDAL's errors are many; each is the same fault for the user
        raise InputError(
            Problem(
                file=str(file),
                message=f"the boundaries file cannot be read: {exc}",
                fix="give a GeoPackage, GeoJSON or Shapefile of commune or district outlines",
            )
        ) from exc
    if frame.crs is None:
        if crs is None:
            raise InputError(
                Problem(
                    file=str(file),
                    message="the boundaries file has no CRS",
                    fix="give it one, or pass --crs (EPSG:4326, VN2000:<province> ...)",
                )
            )
        frame = frame.set_crs(parse_crs(crs))
    kept = frame[frame.geom_type.isin(_OUTLINE_TYPES) & ~frame.is_empty]
    if not len(kept):
        raise InputError(
            Problem(
                file=str(file),
                message="the boundaries file holds no polygon or line",
                fix="give the outlines of the communes or districts as polygons",
            )
        )
    return kept


_OUTLINE_TYPES = ("Polygon", "MultiPolygon", "LineString", "MultiLineString")


def _flag(villages: gpd.GeoDataFrame, column: str) -> npt.NDArray[np.bool_]:
    """Return `column` as booleans (missing is False; an absent column is all False)."""
    if column not in villages:
        return np.zeros(len(villages), dtype=bool)
    return np.asarray(villages[column].fillna(False).astype(bool).to_numpy(), dtype=bool)


def _add_villages(fmap: folium.Map, villages: gpd.GeoDataFrame, indicator: str) -> bool:
    """Add the covered, uncovered and disputed villages; return whether any is disputed."""
    fields = popup_fields(villages, indicator)
    columns = [c for c, _, _ in fields]
    aliases = [bilingual(vi, en) for _, vi, en in fields]

    def popup(drop: str | None = None) -> folium.GeoJsonPopup | None:
        shown = [(c, a) for c, a in zip(columns, aliases, strict=True) if c != drop]
        if not shown:
            return None
        return folium.GeoJsonPopup(
            fields=[c for c, _ in shown], aliases=[a for _, a in shown], max_width=360
        )

    def marker(radius: float) -> folium.CircleMarker | None:
        # A point village is a circle styled like a polygon village, never Leaflet's default
        # pin (whose images a lone page does not have, and which shows no status); filled, as
        # folium's circle marker is not by default.
        return folium.CircleMarker(radius=radius, fill=True) if points else None

    points = bool(villages.geom_type.isin(["Point", "MultiPoint"]).any())
    status = _flag(villages, INDICATOR_COLUMN[indicator])
    vi_ind, en_ind = _INDICATOR_LABEL[indicator]
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
            # a covered village has no "why uncovered" (see _reasons_where_uncovered)
            popup=popup(drop=_reason_column(indicator) if state == "covered" else None),
            marker=marker(5 if state == "uncovered" else 4),
            name=f"villages-{state}",
        ).add_to(group)
        group.add_to(fmap)

    disputed = _flag(villages, "disputed")
    if disputed.any():
        group = folium.FeatureGroup(
            name=bilingual("Thôn có tranh chấp", "Disputed villages"), show=True
        )
        folium.GeoJson(
            _light(villages[disputed], 0.0002, columns),
            style_function=lambda _f: _DISPUTED_STYLE,
            popup=popup(),
            marker=marker(8),
            name="villages-disputed",
        ).add_to(group)
        group.add_to(fmap)
    return bool(disputed.any())


def _add_challenged(fmap: folium.Map, villages: gpd.GeoDataFrame, indicator: str) -> bool:
    """Outline the villages with a challenge to their status; return whether there are any."""
    if "challenge" not in villages:
        return False
    challenged = villages["challenge"].notna().to_numpy(dtype=bool)
    if not challenged.any():
        return False
    fields = popup_fields(villages, indicator)
    columns = [c for c, _, _ in fields]
    points = bool(villages.geom_type.isin(["Point", "MultiPoint"]).any())
    group = folium.FeatureGroup(name=bilingual("Thôn bị khiếu nại", "Challenged villages"))
    folium.GeoJson(
        _light(villages[challenged], 0.0002, columns),
        style_function=lambda _f: _CHALLENGED_STYLE,
        popup=folium.GeoJsonPopup(
            fields=columns, aliases=[bilingual(vi, en) for _, vi, en in fields], max_width=360
        ),
        marker=folium.CircleMarker(radius=_CHALLENGED_RADIUS) if points else None,
        name="villages-challenged",
    ).add_to(group)
    group.add_to(fmap)
    return True


def _with_switch_off(villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return `villages` with ``switch_off``: the first step that takes all their service.

    ``2G`` where switching 2G off leaves the village without mobile service (``loss_2g_off``),
    ``2G + 3G`` where only switching 2G and 3G off does (``loss_2g3g_off``), missing
    elsewhere. `villages` come back as they are when no village loses its service.

    Examples
    --------
    >>> v = gpd.GeoDataFrame({"loss_2g_off": [True, False, False],
    ...                       "loss_2g3g_off": [True, True, False]},
    ...                      geometry=gpd.points_from_xy([0, 1, 2], [0, 0, 0]), crs=4326)
    >>> _with_switch_off(v)["switch_off"].tolist()
    ['2G', '2G + 3G', <NA>]
    """
    step = np.full(len(villages), None, dtype=object)
    for column, name in reversed(_SWITCH_OFF_STEPS):
        step[_flag(villages, column)] = name
    if pd.isna(step).all():
        return villages
    return villages.assign(switch_off=pd.array(step, dtype="string"))


def _add_switch_off(
    fmap: folium.Map,
    villages: gpd.GeoDataFrame,
    indicator: str,
    page: _PagePayload | None,
) -> list[str]:
    """Ring the villages that lose all mobile service with the switch-off; return legend keys.

    The villages carry ``switch_off`` (:func:`_with_switch_off`); on a large map (`page`) they
    are drawn on a canvas from the payload's byte per village.
    """
    name = bilingual(*_SWITCH_OFF_LABEL)
    if page is not None:
        if not page.payload.switch_off:
            return []
        spec = {
            "kind": "villages",
            "status": "switch_off",
            "radius": _SWITCH_OFF_RADIUS,
            "fill": False,
            "color": _SWITCH_OFF_STYLE["color"],
            "weight": _SWITCH_OFF_STYLE["weight"],
            "dashArray": [int(d) for d in str(_SWITCH_OFF_STYLE["dashArray"]).split()],
        }
        _CanvasPoints(page.element_id, spec, name=name).add_to(fmap)
    else:
        if "switch_off" not in villages:
            return []
        lost = villages["switch_off"].notna().to_numpy(dtype=bool)
        fields = popup_fields(villages, indicator)
        points = bool(villages.geom_type.isin(["Point", "MultiPoint"]).any())
        group = folium.FeatureGroup(name=name)
        folium.GeoJson(
            _light(villages[lost], 0.0002, [c for c, _, _ in fields]),
            style_function=lambda _f: _SWITCH_OFF_STYLE,
            popup=folium.GeoJsonPopup(
                fields=[c for c, _, _ in fields],
                aliases=[bilingual(vi, en) for _, vi, en in fields],
                max_width=360,
            ),
            marker=folium.CircleMarker(radius=_SWITCH_OFF_RADIUS) if points else None,
            name="villages-switch-off",
        ).add_to(group)
        group.add_to(fmap)
    colour = str(_SWITCH_OFF_STYLE["color"])
    return _legend_keys(
        {"lost": colour}, {"lost": _SWITCH_OFF_LABEL}, {"lost"}, swatch=_SWITCH_OFF_SWATCH
    )


def _add_fiber(fmap: folium.Map, layers: MapLayers, colours: Mapping[str, str]) -> bool:
    """Add the fiber routes (one feature per operator) and the fiber access points.

    Returns whether there were fiber routes (the legend keys them).
    """
    fiber = layers.fiber
    drawn = False
    if fiber is not None and len(fiber) and "operator" in fiber:
        drawn = True
        group = folium.FeatureGroup(name=bilingual("Cáp quang", "Fiber"), show=False)
        folium.GeoJson(
            _light(_grouped(fiber.to_crs(4326), ["operator"]), 0.0003, ["operator"]),
            style_function=lambda f: {
                "color": colours.get(f["properties"].get("operator"), "#6a3d9a"),
                "weight": 2,
                "opacity": 0.8,
                "dashArray": "4 3",
            },
            tooltip=folium.GeoJsonTooltip(fields=["operator"], labels=False),
        ).add_to(group)
        group.add_to(fmap)
        _toggle_keys(fmap, group, _FIBER_KEY_ID)

    access_points = layers.access_points
    if access_points is not None and len(access_points):
        group = folium.FeatureGroup(
            name=bilingual("Điểm truy nhập quang", "Fiber access points"), show=False
        )
        keys = [c for c in ("operator", "kind") if c in access_points]
        points = _grouped(access_points.to_crs(4326), keys)
        folium.GeoJson(
            _light(points, 0.0, keys),
            marker=folium.CircleMarker(radius=3, weight=1, color="#222222", fill=True),
            style_function=lambda f: {
                "fillColor": colours.get(f["properties"].get("operator"), "#555555"),
                "fillOpacity": 0.9,
            },
            tooltip=folium.GeoJsonTooltip(fields=keys, labels=False) if keys else None,
        ).add_to(group)
        group.add_to(fmap)
    return drawn


def _add_sites(
    fmap: folium.Map, sites: gpd.GeoDataFrame | None, colours: Mapping[str, str]
) -> list[str]:
    """Add one marker cluster of BTS sites per operator, in its colour; return the operators."""
    # Imported here: folium.plugins loads every plugin, which a large map does not need.
    from folium.plugins import MarkerCluster

    operators: list[str] = []
    if sites is None or not len(sites):
        return operators
    for op, part in sites.to_crs(4326).groupby("operator", sort=True):
        operators.append(str(op))
        cluster = MarkerCluster(  # type: ignore[no-untyped-call]
            name=bilingual(f"Trạm BTS {op}", f"{op} BTS sites"),
            options={"disableClusteringAtZoom": 13, "maxClusterRadius": 40},
        )
        cluster.default_js = []
        cluster.default_css = []
        colour = colours.get(str(op), "#555555")
        lat, lon = _points(part)
        techs = (
            part["tech"].fillna("4G").astype(str).tolist() if "tech" in part else ["4G"] * len(part)
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
                tooltip=_tooltip_text(f"{op} {sid} ({tech})"),
            ).add_to(cluster)
        cluster.add_to(fmap)
    return operators


def _add_shared_towers(fmap: folium.Map, towers: gpd.GeoDataFrame | None) -> bool:
    """Ring the towers shared by several operators; return whether there were any."""
    if towers is None or "shared" not in towers or not towers["shared"].fillna(False).any():
        return False
    shared = towers[towers["shared"].fillna(False).astype(bool)]
    group = folium.FeatureGroup(name=bilingual("Trạm dùng chung", "Shared towers"), show=True)
    lat, lon = _points(shared)
    for y, x, ops in zip(lat.tolist(), lon.tolist(), shared["operators"].astype(str), strict=True):
        folium.CircleMarker(
            [y, x],
            radius=8,
            color="#000000",
            weight=2,
            fill=False,
            tooltip=_tooltip_text(f"Dùng chung / Shared: {ops}"),
        ).add_to(group)
    group.add_to(fmap)
    return True


#: A legend key's swatch (``style`` of its ``span``, ``{colour}`` its colour): a marker's dot,
#: and an area's outline and fill.
_DOT_SWATCH = "background:{colour};border:1px solid #000;border-radius:50%"
_AREA_SWATCH = "background:{colour};opacity:.6;border:2px solid {colour}"


def _legend_keys(
    colours: Mapping[str, str],
    labels: Mapping[str, tuple[str, str]],
    present: Collection[str],
    *,
    swatch: str = _DOT_SWATCH,
) -> list[str]:
    """Return the legend keys of a layer coloured by state: the states `present`, in order.

    `colours` and `labels` (``(Vietnamese, English)``) are keyed by state, in the legend's
    order; `swatch` is the style of each key's swatch, with ``{colour}`` for its colour.

    Examples
    --------
    >>> _legend_keys({"a": "#000", "b": "#fff"}, {"a": ("A", "A"), "b": ("B", "B")}, {"b"})
    ['<span class="hts-swatch" style="background:#fff;border:1px solid #000;border-radius:50%"></span><span class="vi">B</span><span class="en">B</span>']
    """  # noqa: E501
    return [
        f'<span class="hts-swatch" style="{swatch.format(colour=colour)}"></span>'
        + bilingual(*labels[state])
        for state, colour in colours.items()
        if state in present
    ]


def _add_masts(fmap: folium.Map, masts: gpd.GeoDataFrame | None) -> list[str]:
    """Add the mast registry, one layer, each mast coloured by its status; return legend keys."""
    if masts is None or not len(masts):
        return []
    frame = masts.to_crs(4326)
    status = (
        frame["status"].astype("string").fillna("built")
        if "status" in frame
        else pd.Series("built", index=frame.index, dtype="string")
    )
    frame = frame.assign(status=status)
    fields = [c for c in ("mast_id", "owner", "status", "tenants", "permit_no") if c in frame]
    aliases = [
        bilingual(vi, en)
        for c, vi, en in (
            ("mast_id", "Cột", "Mast"),
            ("owner", "Chủ sở hữu", "Owner"),
            ("status", "Trạng thái", "Status"),
            ("tenants", "Nhà mạng sử dụng", "Tenants"),
            ("permit_no", "Giấy phép", "Permit"),
        )
        if c in fields
    ]
    group = folium.FeatureGroup(name=bilingual("Cột ăng-ten (sổ đăng ký)", "Masts (registry)"))
    folium.GeoJson(
        _light(frame, 0.0, fields),
        name="masts",
        marker=folium.CircleMarker(radius=5, weight=2, fill=True),
        style_function=lambda f: {
            "color": "#000000",
            "fillColor": MAST_STATUS_COLOURS.get(f["properties"].get("status"), "#252525"),
            "fillOpacity": 0.9,
        },
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
    ).add_to(group)
    group.add_to(fmap)
    present = set(status.dropna().astype(str))
    return _legend_keys(MAST_STATUS_COLOURS, _MAST_STATUS_LABEL, present)


def _add_commitments(fmap: folium.Map, commitments: gpd.GeoDataFrame | None) -> list[str]:
    """Add the commitments on their villages, coloured by state; return legend keys."""
    if commitments is None or not len(commitments):
        return []
    fields = [
        c for c in ("name", "village_id", "operator", "tech", "due", "status") if c in commitments
    ]
    aliases = [
        bilingual(vi, en)
        for c, vi, en in (
            ("name", "Thôn", "Village"),
            ("village_id", "Mã thôn", "Village id"),
            ("operator", "Nhà mạng", "Operator"),
            ("tech", "Công nghệ", "Technology"),
            ("due", "Hạn", "Due"),
            ("status", "Tình trạng", "State"),
        )
        if c in fields
    ]
    group = folium.FeatureGroup(
        name=bilingual("Cam kết của doanh nghiệp", "Operators' commitments")
    )
    folium.GeoJson(
        _light(commitments.to_crs(4326), 0.0, fields),
        name="commitments",
        marker=folium.CircleMarker(radius=7, weight=1, fill=True),
        style_function=lambda f: {
            "color": "#000000",
            "fillColor": COMMITMENT_COLOURS.get(f["properties"].get("status"), "#969696"),
            "fillOpacity": 0.95,
        },
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
    ).add_to(group)
    group.add_to(fmap)
    present = set(commitments["status"].dropna().astype(str))
    return _legend_keys(COMMITMENT_COLOURS, _COMMITMENT_LABEL, present)


#: How a village's ``mobile_basis`` reads in its popup: Vietnamese, the code in brackets.
_BASIS_NAMES = {
    "measured": "đo kiểm (measured)",
    "predicted": "dự báo (predicted)",
    "declared": "công bố (declared)",
    "challenge": "khiếu nại (challenge)",
}


def _basis_named(villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return `villages` with ``mobile_basis`` named for the popup (:data:`_BASIS_NAMES`).

    Examples
    --------
    >>> v = gpd.GeoDataFrame({"mobile_basis": ["measured", None, "other"]},
    ...                      geometry=gpd.points_from_xy([0, 1, 2], [0, 0, 0]), crs=4326)
    >>> _basis_named(v)["mobile_basis"].tolist()
    ['đo kiểm (measured)', <NA>, 'other']
    """
    if "mobile_basis" not in villages:
        return villages
    basis = villages["mobile_basis"].astype("string")
    return villages.assign(mobile_basis=basis.replace(_BASIS_NAMES))


def _reasons_where_uncovered(villages: gpd.GeoDataFrame, indicator: str) -> gpd.GeoDataFrame:
    """Return `villages` with the reason of :data:`POPUP_FIELDS` only where they are uncovered.

    The engine writes a reason for every village (the terrain model's best server for a
    covered one too, in ``villages.gpkg``); the popup's row is "why uncovered", so a village
    covered by the map's `indicator` shows none.

    Examples
    --------
    >>> v = gpd.GeoDataFrame({"covered_mobile": [True, False], "mobile_reason": ["a", "b"]},
    ...                      geometry=gpd.points_from_xy([0, 1], [0, 0]), crs=4326)
    >>> _reasons_where_uncovered(v, "mobile")["mobile_reason"].tolist()
    [nan, 'b']
    """
    reason = _reason_column(indicator)
    if reason not in villages:
        return villages
    covered = _flag(villages, INDICATOR_COLUMN[indicator])
    if not covered.any():
        return villages
    return villages.assign(**{reason: villages[reason].mask(covered)})


def _speed_where_covered(villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return `villages` without a predicted downlink where the run finds no mobile broadband.

    The prediction (:func:`hatangso.coverage.speed.predict_downlink`) reads the median Hata
    loss at the village centre, whatever the coverage model: under the terrain model a village
    in a ridge's shadow would show a fast 4G download on the map although it has no 4G. A
    speed is that of a service the village has, so the map shows it only where
    ``covered_mobile`` holds (its popup and the speed layer).

    Examples
    --------
    >>> v = gpd.GeoDataFrame({"covered_mobile": [True, False], "pred_dl_mbps": [88.0, 88.0],
    ...                       "sinr_db": [27.0, 27.0]},
    ...                      geometry=gpd.points_from_xy([0, 1], [0, 0]), crs=4326)
    >>> _speed_where_covered(v)["pred_dl_mbps"].tolist()
    [88.0, nan]
    """
    columns = [c for c in ("pred_dl_mbps", "sinr_db", "pred_dl_operator") if c in villages]
    if not columns or "covered_mobile" not in villages:
        return villages
    uncovered = ~_flag(villages, "covered_mobile")
    if not uncovered.any():
        return villages
    return villages.assign(**{c: villages[c].mask(uncovered) for c in columns})


def speed_classes(pred_dl_mbps: pd.Series, target_mbps: float) -> pd.Series:
    """Class of each predicted downlink: ``none`` (0), ``below``, ``target``, ``double``.

    NaN (no carrier within reach) stays NA.

    Examples
    --------
    >>> speed_classes(pd.Series([0.0, 12.0, 40.0, 80.0, None]), 40.0).tolist()
    ['none', 'below', 'target', 'double', <NA>]
    """
    values = pd.to_numeric(pred_dl_mbps, errors="coerce").to_numpy(dtype=float)
    classes = np.select(
        [values <= 0.0, values < target_mbps, values < 2.0 * target_mbps],
        ["none", "below", "target"],
        "double",
    ).astype(object)
    classes[np.isnan(values)] = None
    return pd.Series(classes, index=pred_dl_mbps.index, dtype="string")


def _add_speed(
    fmap: folium.Map,
    villages: gpd.GeoDataFrame,
    kpis: Mapping[str, Any] | None,
    *,
    only_slow: bool,
) -> list[str]:
    """Add the villages' predicted downlink (off until switched on); return legend keys.

    One point per centre of a village with mobile broadband (:func:`_speed_where_covered`),
    coloured against the run's target speed; `only_slow` (the
    compact map of a large run) draws only the covered villages below the target, the
    capacity gap.
    """
    block = (kpis or {}).get("predicted_downlink")
    if block is None or "pred_dl_mbps" not in villages:
        return []
    target = float(block["target_mbps"])
    classes = speed_classes(villages["pred_dl_mbps"], target)
    keep = classes.notna().to_numpy(dtype=bool)
    if only_slow:
        covered = _flag(villages, "covered_mobile")
        keep = keep & covered & classes.isin(["none", "below"]).fillna(False).to_numpy(dtype=bool)
    if not keep.any():
        return []
    part = villages[keep]
    frame = gpd.GeoDataFrame(
        part.drop(columns=part.geometry.name).assign(speed_class=classes[keep]),
        geometry=part.geometry.representative_point().to_numpy(),
        crs=4326,
    )
    fields = [
        c
        for c in ("name", "village_id", "pred_dl_mbps", "sinr_db", "pred_dl_operator")
        if c in frame
    ]
    aliases = [
        bilingual(vi, en)
        for c, vi, en in (
            ("name", "Thôn", "Village"),
            ("village_id", "Mã thôn", "Village id"),
            ("pred_dl_mbps", "Tốc độ tải xuống dự báo (Mb/s)", "Predicted download (Mb/s)"),
            ("sinr_db", "SINR (dB)", "SINR (dB)"),
            ("pred_dl_operator", "Nhà mạng", "Operator"),
        )
        if c in fields
    ]
    group = folium.FeatureGroup(
        name=bilingual(
            f"Tốc độ tải xuống dự báo (mục tiêu {target:g} Mb/s)",
            f"Predicted download (target {target:g} Mb/s)",
        ),
        show=False,
    )
    folium.GeoJson(
        _light(frame, 0.0, [*fields, "speed_class"]),
        name="predicted-speed",
        marker=folium.CircleMarker(radius=5, weight=1, fill=True),
        style_function=lambda f: {
            "color": "#000000",
            "fillColor": SPEED_COLOURS.get(f["properties"].get("speed_class"), "#969696"),
            "fillOpacity": 0.9,
        },
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
    ).add_to(group)
    group.add_to(fmap)
    present = set(frame["speed_class"].dropna().astype(str))
    keys = _legend_keys(SPEED_COLOURS, _SPEED_LABEL, present)
    # The keys show while the layer does (it starts off): its circles look like the villages'.
    _toggle_keys(fmap, group, _SPEED_KEYS_ID)
    return [f'<span id="{_SPEED_KEYS_ID}" style="display:none">{"<br>".join(keys)}</span>']


#: The legend's keys of the layers that start off: the speed circles, the fiber routes.
_SPEED_KEYS_ID = "hts-speed-keys"
_FIBER_KEY_ID = "hts-fiber-key"
#: Show a legend key (and the line break before it) while its layer is on the map.
_KEYS_TOGGLE = Template(
    """
{% macro script(this, kwargs) %}
(function () {
  var keys = document.getElementById('{{ this.element }}');
  if (!keys) { return; }
  var br = keys.previousElementSibling;
  if (!br || br.tagName !== 'BR') { br = null; }
  function show(on) {
    keys.style.display = on ? 'inline' : 'none';
    if (br) { br.style.display = on ? '' : 'none'; }
  }
  show(keys.style.display !== 'none');
  {{ this.group }}.on('add', function () { show(true); });
  {{ this.group }}.on('remove', function () { show(false); });
})();
{% endmacro %}
"""
)


def _toggle_keys(fmap: folium.Map, group: folium.FeatureGroup, element: str) -> None:
    """Show the legend's element `element` only while `group` is on the map."""
    toggle = MacroElement()  # type: ignore[no-untyped-call]
    toggle._name = "LegendKeysToggle"
    toggle._template = _KEYS_TOGGLE
    toggle.group = group.get_name()  # type: ignore[attr-defined]
    toggle.element = element  # type: ignore[attr-defined]
    fmap.add_child(toggle)


def _add_iot_zones(fmap: folium.Map, zones: gpd.GeoDataFrame | None) -> list[str]:
    """Add the IoT zones (outlines or points), coloured covered or not; return legend keys."""
    if zones is None or not len(zones):
        return []
    covered = zones["covered_iot"].fillna(False).to_numpy(dtype=bool)
    frame = zones.to_crs(4326).assign(
        iot_status=np.where(covered, "covered", "uncovered"),
        iot_share_pct=np.round(100.0 * zones["iot_share"].to_numpy(dtype=float)),
        kind_label=zones["kind"].map(_IOT_KIND_LABEL).fillna(zones["kind"]).astype(str),
    )
    fields = [c for c in ("name", "poi_id", "kind_label", "iot_share_pct") if c in frame]
    aliases = [
        bilingual(vi, en)
        for c, vi, en in (
            ("name", "Tên", "Name"),
            ("poi_id", "Mã", "Id"),
            ("kind_label", "Loại", "Kind"),
            ("iot_share_pct", "Diện tích trong vùng phủ IoT (%)", "Area within IoT reach (%)"),
        )
        if c in fields
    ]
    group = folium.FeatureGroup(
        name=bilingual(
            "Khu công nghiệp, vùng sản xuất (IoT)", "Industrial and production zones (IoT)"
        )
    )
    folium.GeoJson(
        _light(frame, 0.0, [*fields, "iot_status"]),
        name="iot_zones",
        marker=folium.CircleMarker(radius=8, weight=3, fill=True),
        style_function=lambda f: {
            "color": IOT_ZONE_COLOURS.get(f["properties"].get("iot_status"), "#969696"),
            "fillColor": IOT_ZONE_COLOURS.get(f["properties"].get("iot_status"), "#969696"),
            "weight": 3,
            "fillOpacity": 0.25,
        },
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
    ).add_to(group)
    group.add_to(fmap)
    present = {"covered" if c else "uncovered" for c in covered.tolist()}
    return _legend_keys(IOT_ZONE_COLOURS, _IOT_ZONE_LABEL, present, swatch=_AREA_SWATCH)


def _add_panels(
    fmap: folium.Map,
    kpis: Mapping[str, Any] | None,
    *,
    title: str,
    indicator: str,
    operators: Mapping[str, str],
    disputed: bool,
    shared: bool,
    fiber: bool,
    states: Collection[str],
    keys: tuple[str, ...] = (),
    challenged: bool = False,
) -> None:
    """Add the title, the language button, the legend and (with `kpis`) the KPI panel.

    The legend's key of sites lists `operators` (name to colour) as the sites are drawn; it
    keys the village `states` drawn, shared towers and fiber only when the map draws them,
    and ends with `keys` (the registry's and the commitments' items).
    """
    root: Any = fmap.get_root()
    root.html.add_child(_Markup(f'<div id="hts-title" class="hts-box">{html.escape(title)}</div>'))
    root.html.add_child(
        _Markup(
            '<button id="hts-lang" class="hts-box" type="button">'
            + bilingual("English", "Tiếng Việt")
            + "</button>"
        )
    )
    root.html.add_child(
        _Markup(
            _legend(
                indicator,
                operators,
                disputed=disputed,
                shared=shared,
                fiber=fiber,
                states=states,
                extra=keys,
                challenged=challenged,
            )
        )
    )
    if kpis is not None:
        root.html.add_child(_Markup(_kpi_panel(kpis)))


def _render(fmap: folium.Map, villages: gpd.GeoDataFrame, *, online_tiles: bool) -> str:
    """Add the layer control, fit the villages and render; refuse a page that loads from outside."""
    minx, miny, maxx, maxy = villages.total_bounds
    folium.LayerControl(collapsed=False).add_to(fmap)
    # The page opens at the villages' extent without a zoom animation: Leaflet ignores any view
    # change asked for while one runs, so a search or a link to a village in the first quarter
    # second would otherwise be lost.
    fit = folium.map.FitBounds([[miny, minx], [maxy, maxx]])
    fit.options["animate"] = False
    fmap.add_child(fit)
    root: Any = fmap.get_root()
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


_INLINE_SCRIPT = re.compile(r"<script>.*?</script>", re.IGNORECASE | re.DOTALL)
_LOADS = re.compile(
    r"""<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//"""
    r"""|@import\s+["']?(?:https?:)?//""",
    re.IGNORECASE,
)


def find_outside_loads(page: str) -> list[str]:
    """List what an HTML page would fetch from another host (scripts, styles, images, CSS).

    Links a user may click (an ``<a href>``) load nothing and are not listed; the bodies of
    inline scripts are skipped, so strings inside Leaflet's code do not count.
    """
    markup = _INLINE_SCRIPT.sub("<script></script>", page)
    return [markup[max(m.start() - 60, 0) : m.end() + 60] for m in _LOADS.finditer(markup)]
