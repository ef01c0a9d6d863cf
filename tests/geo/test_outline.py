"""Viet Nam's shipped outline: hand-placed points whose answer is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely

from hatangso.geo.outline import BORDER_TOLERANCE_M, in_vietnam, vietnam_outline
from hatangso.geo.validate import load_layer

INSIDE = {
    "Hà Nội, Hoàn Kiếm": (105.852, 21.028),
    "Hồ Chí Minh City": (106.700, 10.776),
    "Phú Quốc, Dương Đông": (103.960, 10.217),
    "Côn Đảo": (106.606, 8.683),
    "Cô Tô": (107.766, 20.978),
    "Bạch Long Vĩ": (107.725, 20.135),
    "Lý Sơn": (109.120, 15.380),
    "Phú Quý": (108.940, 10.520),
    "Thổ Chu": (103.470, 9.300),
    "Hoàng Sa, Phú Lâm (Woody Island)": (112.335, 16.834),
    "Hoàng Sa, Hoàng Sa (Pattle Island)": (111.606, 16.532),
    "Trường Sa, Trường Sa Lớn (Spratly Island)": (111.920, 8.645),
    "Trường Sa, Song Tử Tây": (114.330, 11.430),
    "Lũng Cú, the northern tip": (105.316, 23.364),
    "Mũi Cà Mau": (104.730, 8.620),
}

OUTSIDE = {
    "Vientiane, Laos": (102.600, 17.970),
    "Gulf of Tonkin, 108 E 20 N": (108.000, 20.000),
    "Phnom Penh, Cambodia": (104.917, 11.550),
    "Nanning, China": (108.320, 22.820),
    "Haikou, Hainan": (110.330, 20.030),
    "Kunming, China": (102.830, 24.880),
    "South China Sea, 110 E 12 N": (110.000, 12.000),
    "Paris": (2.350, 48.850),
}


@pytest.mark.parametrize("name", list(INSIDE))
def test_places_in_vietnam_and_its_islands_are_inside(name: str) -> None:
    lon, lat = INSIDE[name]
    assert in_vietnam(lon, lat).item(), name


@pytest.mark.parametrize("name", list(OUTSIDE))
def test_places_abroad_and_at_sea_are_outside(name: str) -> None:
    lon, lat = OUTSIDE[name]
    assert not in_vietnam(lon, lat).item(), name


def _step_across_border(
    inland_lon: float, inland_lat: float, abroad_lon: float, abroad_lat: float, metres: float
) -> tuple[float, float]:
    """The point `metres` beyond the land border, on the line from a Vietnamese to a foreign point.

    The border crossing is found on the shipped outline (tolerance 0) by bisection along the line
    in UTM 48N; the step is then taken along the same line.
    """
    to_utm = pyproj.Transformer.from_crs(4326, 32648, always_xy=True)
    to_lonlat = pyproj.Transformer.from_crs(32648, 4326, always_xy=True)
    x0, y0 = to_utm.transform(inland_lon, inland_lat)
    x1, y1 = to_utm.transform(abroad_lon, abroad_lat)
    t = np.linspace(0.0, 1.0, 20_001)
    lon, lat = to_lonlat.transform(x0 + t * (x1 - x0), y0 + t * (y1 - y0))
    inside = in_vietnam(lon, lat, tolerance_m=0.0)
    assert inside[0] and not inside[-1]
    crossing = int(np.argmin(inside))  # the first sample beyond the border
    length = float(np.hypot(x1 - x0, y1 - y0))
    t_out = t[crossing] + metres / length
    out_lon, out_lat = to_lonlat.transform(x0 + t_out * (x1 - x0), y0 + t_out * (y1 - y0))
    return float(out_lon), float(out_lat)


@pytest.mark.parametrize(
    ("border", "inland", "abroad"),
    [
        ("Laos, west of Điện Biên Phủ", (103.02, 21.39), (102.70, 21.39)),
        ("Cambodia, west of Tây Ninh", (106.10, 11.30), (105.80, 11.30)),
        ("China, north of Lạng Sơn", (106.76, 21.85), (106.76, 22.20)),
    ],
)
def test_tolerance_keeps_a_point_just_across_the_land_border(
    border: str, inland: tuple[float, float], abroad: tuple[float, float]
) -> None:
    near = _step_across_border(*inland, *abroad, metres=500.0)
    far = _step_across_border(*inland, *abroad, metres=BORDER_TOLERANCE_M + 1_500.0)
    assert not in_vietnam(*near, tolerance_m=0.0).item(), border
    assert in_vietnam(*near).item(), border
    assert not in_vietnam(*far).item(), border


def test_arrays_scalars_and_nan() -> None:
    lon = np.array([[105.85, np.nan], [102.60, 105.85]])
    lat = np.array([[21.03, 21.03], [17.97, np.nan]])
    inside = in_vietnam(lon, lat)
    assert inside.shape == (2, 2) and inside.dtype == np.bool_
    assert inside.tolist() == [[True, False], [False, False]]
    assert in_vietnam(105.85, 21.03).shape == ()
    assert in_vietnam(np.array([]), np.array([])).shape == (0,)


def test_outline_is_read_once_and_prepared() -> None:
    assert vietnam_outline() is vietnam_outline()
    outline = vietnam_outline(tolerance_m=0.0)
    assert shapely.is_prepared(outline)
    assert shapely.is_valid(outline)
    # The mainland and its islands: Viet Nam's land is about 331,000 km2.
    area_km2 = shapely.area(outline) * 111.32 * 110.57 * np.cos(np.radians(16.0))
    assert 300_000 < area_km2 < 370_000


def test_hundred_thousand_points_in_one_call() -> None:
    rng = np.random.default_rng(20260103)
    lon = rng.uniform(102.0, 110.0, 100_000)
    lat = rng.uniform(8.0, 23.5, 100_000)
    inside = in_vietnam(lon, lat)
    # Viet Nam fills a fifth to a quarter of that box, sea and neighbours the rest.
    assert 0.18 < inside.mean() < 0.28
    # Row order changes nothing.
    order = rng.permutation(len(lon))
    assert (in_vietnam(lon[order], lat[order]) == inside[order]).all()


def test_reject_reasons_name_the_point_and_the_likely_fault(tmp_path: Path) -> None:
    path = tmp_path / "villages.csv"
    path.write_text(
        "village_id,name,lon,lat\n"
        "A,Thôn Nà Hin,105.80,21.00\n"
        "B,Ban Nong,102.60,17.97\n"
        "C,Thôn Đảo,108.00,20.00\n"
        "D,Bản Chang,105.90,210.1\n"
        "E,Thôn Cù Lao Ré,109.12,15.38\n",
        encoding="utf-8",
    )
    layer = load_layer(path, "villages")
    assert layer.counts() == {"read": 5, "used": 2, "rejected": 3, "repaired": 0}
    assert set(layer.frame["village_id"]) == {"A", "E"}
    reasons = dict(zip(layer.rejects["id"], layer.rejects["reason"], strict=True))
    assert reasons["B"].startswith("outside Vietnam (lon 102.6000, lat 17.9700): more than 2 km")
    assert reasons["C"].startswith("outside Vietnam (lon 108.0000, lat 20.0000)")
    assert "not a longitude/latitude in degrees" in reasons["D"]


def test_a_swapped_point_among_good_ones_is_told_to_swap(tmp_path: Path) -> None:
    path = tmp_path / "villages.csv"
    path.write_text(
        "village_id,name,lon,lat\nA,Thôn A,105.80,21.00\nB,Thôn B,105.81,21.01\n"
        "C,Thôn C,21.02,105.82\n",
        encoding="utf-8",
    )
    layer = load_layer(path, "villages")
    assert layer.used == 2
    assert "longitude and latitude swapped?" in layer.rejects.loc[0, "reason"]


def test_a_village_centre_abroad_is_refused_with_the_same_reason(tmp_path: Path) -> None:
    path = tmp_path / "villages.csv"
    path.write_text(
        "village_id,name,lon,lat,centre_lon,centre_lat\n"
        "A,Thôn A,105.80,21.00,105.801,21.001\n"
        "B,Thôn B,105.81,21.01,102.60,17.97\n",
        encoding="utf-8",
    )
    layer = load_layer(path, "villages")
    assert list(layer.frame["village_id"]) == ["A"]
    assert layer.rejects.loc[0, "reason"].startswith(
        "village centre (centre_lon/centre_lat) is outside Vietnam (lon 102.6000, lat 17.9700)"
    )


def test_the_shipped_grown_outline_is_what_the_builder_makes() -> None:
    """``data/vietnam_outline_grown.wkb`` is the shipped outline grown by the tolerance."""
    from importlib import resources

    from hatangso.geo.outline import build_grown_outline

    shipped = resources.files("hatangso.geo").joinpath("data/vietnam_outline_grown.wkb")
    assert shipped.read_bytes() == build_grown_outline(), (
        "rebuild it: python -m hatangso.geo.outline geo/src/hatangso/geo/data/"
        "vietnam_outline_grown.wkb"
    )
    # And it is what vietnam_outline gives at the tolerance, bit for bit.
    assert shapely.equals_exact(
        vietnam_outline(tolerance_m=BORDER_TOLERANCE_M),
        shapely.from_wkb(build_grown_outline()),
        tolerance=0.0,
    )
