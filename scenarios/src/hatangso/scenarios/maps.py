"""Self-contained maps of uncovered villages, built with folium.

A provincial office may have no internet: the page carries Leaflet inline (vendored in
``assets/leaflet``, BSD-2-Clause) and needs no tile server: the villages themselves are the
base map. :func:`uncovered_map` returns one HTML string that loads nothing from outside.
"""

from __future__ import annotations

import base64
import html
import re
import warnings
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element

__all__ = [
    "OPERATOR_COLOURS",
    "find_outside_loads",
    "inline_leaflet",
    "kpi_cells",
    "uncovered_map",
]

OPERATOR_COLOURS = {
    "Viettel": "#e4002b",
    "VNPT": "#0066b3",
    "MobiFone": "#f39200",
    "Vietnamobile": "#7b2d8e",
    "Gmobile": "#2e7d32",
}
STATUS_STYLE = {
    "uncovered": {"fillColor": "#d7301f", "color": "#7f0000", "weight": 1, "fillOpacity": 0.7},
    "covered": {"fillColor": "#a1d99b", "color": "#41ab5d", "weight": 0.5, "fillOpacity": 0.35},
}


@lru_cache(maxsize=1)
def _leaflet_assets() -> tuple[str, str]:
    folder = resources.files("hatangso.scenarios") / "assets" / "leaflet"
    js = (folder / "leaflet.js").read_text(encoding="utf-8")
    css = (folder / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        name = match.group(1)
        data = (folder / "images" / name).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\(images/([\w\-@.]+\.png)\)", data_uri, css)
    return js, css


def inline_leaflet() -> str:
    """Leaflet's CSS and JS as inline ``<style>``/``<script>`` elements."""
    js, css = _leaflet_assets()
    return f"<style>{css}</style>\n<script>{js}</script>"


def _popup_fields(frame: pd.DataFrame) -> list[tuple[str, str]]:
    wanted = [
        ("name", "Thôn / Village"),
        ("commune", "Xã / Commune"),
        ("district", "Huyện / District"),
        ("population", "Dân số / Population"),
        ("nearest_site_m", "Trạm gần nhất / Nearest site (m)"),
        ("serving_operators", "Nhà mạng phục vụ / Serving operators"),
        ("mobile_reason", "Lý do / Why"),
        ("mobile_basis", "Căn cứ / Basis"),
        ("measured_availability", "Tỷ lệ mẫu đạt / Measured availability"),
        ("n_samples", "Số mẫu đo / Samples"),
        ("declared_operators", "Nhà mạng công bố / Declared by"),
        ("ftth_distance_m", "Cáp quang / Fiber distance (m)"),
    ]
    return [(c, label) for c, label in wanted if c in frame]


def _simplified(frame: gpd.GeoDataFrame, tolerance_deg: float) -> gpd.GeoDataFrame:
    geoms = shapely.simplify(
        np.asarray(frame.geometry.array, dtype=object), tolerance_deg, preserve_topology=True
    )
    out = frame.copy()
    out.geometry = geoms
    return out


def _as_props(frame: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    out = frame[[*columns, frame.geometry.name]].copy()
    for column in columns:
        values = out[column]
        if pd.api.types.is_float_dtype(values):
            out[column] = values.round(0)
        out[column] = out[column].astype(object).where(out[column].notna(), "")
    return out


def uncovered_map(
    villages: gpd.GeoDataFrame,
    *,
    kpis: Mapping[str, Any] | None = None,
    title: str = "hatangso",
    sites: gpd.GeoDataFrame | None = None,
    towers: gpd.GeoDataFrame | None = None,
    indicator: str = "covered_mobile",
    best_dbm: Any = None,
    threshold_dbm: float = -110.0,
    show_power: bool = False,
) -> str:
    """HTML page of the villages coloured by coverage status, uncovered ones first.

    Parameters
    ----------
    villages
        The assessed villages (EPSG:4326) with the coverage columns.
    kpis
        The KPI document, shown in a panel.
    title
        Page title.
    sites
        BTS sites (EPSG:4326), drawn as small circles coloured by operator.
    towers
        Tower locations; shared ones are ringed.
    indicator
        The village column that decides the status (``covered_mobile``, ``covered_5g``,
        ``covered_ftth``).
    best_dbm
        The terrain model's best-server power grid (a
        :class:`hatangso.coverage.rasters.Raster`), drawn as a semi-transparent image:
        terrain shadows show as gaps.
    threshold_dbm
        Power below which the grid is left transparent.
    show_power
        Whether the power image is switched on when the page opens (it is in the layer
        control either way).

    Returns
    -------
    str
        A self-contained HTML document (no request leaves the page).
    """
    frame = villages.to_crs(4326) if villages.crs is not None else villages
    status = frame[indicator].fillna(False).astype(bool) if indicator in frame else None
    minx, miny, maxx, maxy = frame.total_bounds
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_start=10,
        zoom_snap=0.25,
        prefer_canvas=True,
        control_scale=True,
    )
    fmap.default_js = []
    fmap.default_css = []
    root: Any = fmap.get_root()
    root.header.add_child(Element(inline_leaflet()))
    root.header.add_child(Element(f"<title>{html.escape(title)}</title>"))
    fields = _popup_fields(frame)
    columns = [c for c, _ in fields]
    if status is not None:
        for name, mask in (("covered", status), ("uncovered", ~status)):
            part = frame[mask.to_numpy()]
            if not len(part):
                continue
            tolerance = 0.0005 if name == "covered" else 0.0002
            layer = folium.FeatureGroup(
                name=(
                    "Thôn chưa phủ sóng / Uncovered villages"
                    if name == "uncovered"
                    else "Thôn đã phủ sóng / Covered villages"
                ),
                show=True,
            )
            style = STATUS_STYLE[name]
            folium.GeoJson(
                _as_props(_simplified(part, tolerance), columns),
                style_function=lambda _f, s=style: s,
                popup=folium.GeoJsonPopup(fields=columns, aliases=[a for _, a in fields])
                if columns
                else None,
                name=name,
            ).add_to(layer)
            layer.add_to(fmap)
    if sites is not None and len(sites):
        layer = folium.FeatureGroup(name="Trạm BTS / BTS sites", show=True)
        pts = sites.to_crs(4326)
        for op, group in pts.groupby("operator", sort=True):
            colour = OPERATOR_COLOURS.get(str(op), "#555555")
            coords = np.column_stack([group.geometry.y, group.geometry.x]).round(6).tolist()
            ids = group["site_id"].astype(str).tolist()
            for (lat, lon), sid in zip(coords, ids, strict=True):
                folium.CircleMarker(
                    [lat, lon],
                    radius=3,
                    color=colour,
                    fill=True,
                    fill_opacity=0.9,
                    weight=1,
                    tooltip=f"{html.escape(str(op))} {html.escape(sid)}",
                ).add_to(layer)
        layer.add_to(fmap)
    if towers is not None and "shared" in towers and towers["shared"].any():
        layer = folium.FeatureGroup(name="Trạm dùng chung / Shared towers", show=False)
        shared = towers[towers["shared"]]
        for lat, lon, ops in zip(
            shared.geometry.y, shared.geometry.x, shared["operators"], strict=True
        ):
            folium.CircleMarker(
                [lat, lon],
                radius=7,
                color="#000000",
                weight=2,
                fill=False,
                tooltip=f"Dùng chung / Shared: {html.escape(str(ops))}",
            ).add_to(layer)
        layer.add_to(fmap)
    if "disputed" in frame and frame["disputed"].fillna(False).astype(bool).any():
        disputed = frame[frame["disputed"].fillna(False).astype(bool).to_numpy()]
        layer = folium.FeatureGroup(name="Thôn có tranh chấp / Disputed villages", show=True)
        folium.GeoJson(
            _as_props(_simplified(disputed, 0.0002), columns),
            style_function=lambda _f: {
                "color": "#6a00a8",
                "weight": 2.5,
                "fillOpacity": 0.0,
                "dashArray": "5 4",
            },
            popup=folium.GeoJsonPopup(fields=columns, aliases=[a for _, a in fields])
            if columns
            else None,
            name="disputed",
        ).add_to(layer)
        layer.add_to(fmap)
    if best_dbm is not None:
        image, bounds = _power_image(best_dbm, threshold_dbm)
        folium.raster_layers.ImageOverlay(
            image=image,
            bounds=bounds,
            opacity=0.6,
            name="Cường độ tín hiệu / Best-server power",
            show=show_power,
        ).add_to(fmap)
    if kpis is not None:
        root.html.add_child(Element(_kpi_panel(kpis, title)))
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    page: str = root.render()
    _check_offline(page)
    return page


def _power_image(raster: Any, threshold_dbm: float) -> tuple[str, list[list[float]]]:
    """Draw the power grid as an inline PNG in EPSG:4326; return it and its bounds.

    Cells at or above the threshold run from yellow (weak) to dark green (strong); cells below
    it, and cells no site reaches, are transparent.
    """
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile
    from rasterio.transform import array_bounds
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    src = np.asarray(raster.array, dtype="float32")
    height, width = src.shape
    west, south, east, north = array_bounds(height, width, raster.transform)
    transform, w, h = calculate_default_transform(
        raster.crs, "EPSG:4326", width, height, left=west, bottom=south, right=east, top=north
    )
    dst = np.full((h, w), np.nan, dtype="float32")
    reproject(
        src,
        dst,
        src_transform=raster.transform,
        src_crs=raster.crs,
        dst_transform=transform,
        dst_crs="EPSG:4326",
        resampling=Resampling.nearest,
        src_nodata=np.nan,
        dst_nodata=np.nan,
    )
    t = np.nan_to_num(np.clip((dst - threshold_dbm) / 40.0, 0.0, 1.0), nan=0.0)
    rgba = np.zeros((4, h, w), dtype="uint8")
    rgba[0] = np.round(255 * (1 - t) * 0.9).astype("uint8")
    rgba[1] = np.round(200 - 90 * t).astype("uint8")
    rgba[2] = np.round(40 + 40 * t).astype("uint8")
    rgba[3] = np.where(np.isfinite(dst) & (dst >= threshold_dbm), 255, 0).astype("uint8")
    with warnings.catch_warnings():
        # A PNG carries no georeference; its place on the map is given by `bounds`.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile() as memory:
            with memory.open(driver="PNG", width=w, height=h, count=4, dtype="uint8") as png:
                png.write(rgba)
            data = memory.read()
    left, bottom, right, top = array_bounds(h, w, transform)
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return uri, [[bottom, left], [top, right]]


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


def _kpi_panel(kpis: Mapping[str, Any], title: str) -> str:
    rows = []
    for ind in kpis.get("indicators", []):
        shown, goal, mark = kpi_cells(ind)
        rows.append(
            f"<tr><td>{html.escape(ind['label_vi'])}<br><small>{html.escape(ind['label_en'])}"
            f"</small></td><td>{shown}</td><td>{goal}</td><td>{mark}</td></tr>"
        )
    return (
        '<div id="kpi-panel" style="position:absolute;bottom:24px;right:12px;z-index:1000;'
        "background:white;padding:8px;border-radius:6px;box-shadow:0 1px 4px #0004;"
        'font:12px sans-serif;max-width:420px;max-height:45%;overflow:auto">'
        f"<b>{html.escape(title)}</b><table><tr><th>Chỉ tiêu / Indicator</th><th>Đạt<br>Value</th>"
        f"<th>Mục tiêu<br>Target</th><th></th></tr>{''.join(rows)}</table></div>"
    )


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


def _check_offline(page: str) -> None:
    loads = find_outside_loads(page)
    if loads:
        raise RuntimeError(f"map page would load from outside: {loads[0]}")
