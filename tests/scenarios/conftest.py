"""Fixtures of the scenario tests: input layers and scenario files written, the four villages
of the switch-off province."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
import yaml


@pytest.fixture()
def write_layer(tmp_path: Path) -> Callable[..., Path]:
    """Write a layer drawn in a projected CRS to ``tmp_path / name``, in EPSG:4326.

    ``write_layer(name, columns, geometry, crs=..., **options) -> path``; `options` go to
    :meth:`geopandas.GeoDataFrame.to_file` (the driver follows the file's extension).
    """

    def write(
        name: str,
        columns: dict[str, Sequence[Any]],
        geometry: Any,
        *,
        crs: Any,
        **options: Any,
    ) -> Path:
        path = tmp_path / name
        frame = gpd.GeoDataFrame(columns, geometry=geometry, crs=crs).to_crs(4326)
        frame.to_file(path, **options)
        return path

    return write


def _write_scenario(folder: Path, **fields: Any) -> Path:
    data: dict[str, Any] = {"description": "hand-made", "scope": {"province": "Tỉnh Thử"}}
    data.update(fields)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def write_scenario() -> Callable[..., Path]:
    """Write a hand-made scenario of the province "Tỉnh Thử" to ``folder / "scenario.yaml"``.

    ``write_scenario(folder, **fields) -> path``; `fields` are the file's keys (``name``,
    ``title``, ``data``, ``years``, ``targets``, ...), and may replace ``description`` and
    ``scope``.
    """
    return _write_scenario


#: The switch-off province's villages A to D, their sites' longitudes along :data:`SWITCH_OFF_LAT`.
SWITCH_OFF_LON = (106.0, 106.2, 106.4, 106.6)
SWITCH_OFF_LAT = 21.0


def _write_switch_off_province(folder: Path, *, s2_tech: str = "2G", **fields: Any) -> Path:
    half = 0.0045
    lon, lat = SWITCH_OFF_LON, SWITCH_OFF_LAT
    gpd.GeoDataFrame(
        {
            "village_id": ["A", "B", "C", "D"],
            "name": ["Thôn A", "Thôn <B>", "Thôn C", "Thôn D"],
            "commune": "Xã Thử",
            "population": [100, 200, 300, 400],
        },
        geometry=[shapely.box(x - half, lat - half, x + half, lat + half) for x in lon],
        crs="EPSG:4326",
    ).to_file(folder / "villages.geojson", driver="GeoJSON")
    gpd.GeoDataFrame(
        {
            "site_id": ["S1", "S2", "S3", "S4"],
            "operator": ["Viettel", "VNPT", "MobiFone", "Viettel"],
            "tech": ["4G", s2_tech, "3G", "2G;4G"],
        },
        geometry=gpd.points_from_xy(list(lon), [lat] * 4),
        crs="EPSG:4326",
    ).to_file(folder / "sites.geojson", driver="GeoJSON")
    return _write_scenario(
        folder,
        title="Tắt sóng 2G",
        data={"villages": "villages.geojson", "sites": "sites.geojson"},
        targets={"village_mobile_coverage": {2025: 100}},
        **fields,
    )


@pytest.fixture(scope="session")
def write_switch_off_province() -> Callable[..., Path]:
    """Write the switch-off province and its scenario to `folder`: ``write(folder, ...)``.

    Four square villages of 1 km, 0.2° (about 21 km) apart along 21° N: A under a 4G site
    (Viettel), B under a site of `s2_tech` (VNPT; ``"2G"`` unless told), C under a 3G site
    (MobiFone), D under a site carrying 2G and 4G (Viettel). With the radius model (rural 2G
    15 km, 3G 8 km, 4G 5 km) each site serves its own village and no other.
    ``write(folder, *, s2_tech="2G", name=..., years=..., **fields) -> scenario path``; the
    scenario's `fields` (``name`` and ``years`` at least) go to :func:`write_scenario`.
    """
    return _write_switch_off_province
