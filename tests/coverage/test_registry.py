"""The mast registry: its checks on hand-made cases, sharing with and without it, permits."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hatangso.coverage.config import CoverageConfig
from hatangso.coverage.engine import CoverageInputs, assess
from hatangso.coverage.registry import CHECKS, mast_sharing, permit_state, registry_checks

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


def _masts(rows: list[tuple[str, float, float, str, str, str, str]]) -> gpd.GeoDataFrame:
    """Masts from ``(id, dx, dy, owner, status, permit_no, tenants)`` in metres from X0, Y0."""
    frame = pd.DataFrame(
        rows, columns=["mast_id", "dx", "dy", "owner", "status", "permit_no", "tenants"]
    )
    return gpd.GeoDataFrame(
        frame.drop(columns=["dx", "dy"]).replace("", None),
        geometry=shapely.points(X0 + frame["dx"], Y0 + frame["dy"]),
        crs=UTM,
    ).to_crs(4326)


def _sites(rows: list[tuple[str, str, float, float, str | None]]) -> gpd.GeoDataFrame:
    """Sites from ``(id, operator, dx, dy, mast_id)``."""
    frame = pd.DataFrame(rows, columns=["site_id", "operator", "dx", "dy", "mast_id"])
    return gpd.GeoDataFrame(
        frame.drop(columns=["dx", "dy"]),
        geometry=shapely.points(X0 + frame["dx"], Y0 + frame["dy"]),
        crs=UTM,
    ).to_crs(4326)


@pytest.fixture
def registry() -> gpd.GeoDataFrame:
    return _masts(
        [
            ("M1", 0, 0, "Viettel", "built", "GP-1", "Viettel"),
            # 60 m from M1, another owner, built without a permit.
            ("M2", 60, 0, "Tower Co", "built", "", "VNPT"),
            # 90 m north of M1, same owner as M1: no pair; 108 m from M2: too far.
            ("M7", 0, 90, "Viettel", "built", "GP-7", "Viettel"),
            # A planned VNPT mast 50 m from a built Viettel one.
            ("M3", 1000, 0, "VNPT", "planned", "", ""),
            ("M4", 1050, 0, "Viettel", "built", "GP-4", "Viettel"),
            # Dismantled: neither a pair nor a mast to stand on.
            ("M5", 2000, 0, "MobiFone", "dismantled", "", ""),
            ("M8", 2030, 0, "Viettel", "built", "GP-8", "Viettel"),
            # Inside the no-build area.
            ("M6", 5000, 0, "Viettel", "built", "GP-6", "Viettel"),
        ]
    )


def test_registry_checks_find_each_case(registry) -> None:
    sites = _sites(
        [
            ("S1", "Viettel", 0, 0, "M1"),
            ("S2", "VNPT", 1010, 0, None),  # on no mast; nearest built mast M4, 40 m
            ("S3", "MobiFone", 2000, 0, "M5"),  # on a dismantled mast
            ("S4", "Vietnamobile", 7000, 0, "M99"),  # names a mast the registry lacks
        ]
    )
    no_build = gpd.GeoDataFrame(
        {"name": ["Di tích"]},
        geometry=[shapely.box(X0 + 4900, Y0 - 100, X0 + 5100, Y0 + 100)],
        crs=UTM,
    )
    found = registry_checks(registry, sites, crs=UTM, share_distance_m=100.0, no_build=no_build)
    assert found.counts() == {
        "station_on_no_mast": 3,
        "built_without_permit": 1,
        "share_candidate": 2,
        "in_no_build": 1,
    }
    table = found.table
    assert list(table["check"].unique()) == list(CHECKS)  # in the order of CHECKS
    stations = table[table["check"] == "station_on_no_mast"].set_index("site_id")
    assert stations.loc["S2", "other_mast_id"] == "M4"
    assert stations.loc["S2", "distance_m"] == pytest.approx(40.0, abs=0.5)
    assert "names no mast" in stations.loc["S2", "detail"]
    assert "dismantled" in stations.loc["S3", "detail"]
    assert "not in the registry" in stations.loc["S4", "detail"]
    pairs = table[table["check"] == "share_candidate"]
    assert {frozenset(p) for p in zip(pairs["mast_id"], pairs["other_mast_id"], strict=True)} == {
        frozenset({"M1", "M2"}),
        frozenset({"M3", "M4"}),
    }
    assert sorted(pairs["distance_m"].round().tolist()) == [50.0, 60.0]
    assert table.loc[table["check"] == "built_without_permit", "mast_id"].tolist() == ["M2"]
    inside = table[table["check"] == "in_no_build"]
    assert inside["mast_id"].tolist() == ["M6"] and "Di tích" in inside["detail"].iloc[0]


def test_registry_checks_without_sites_or_zones(registry) -> None:
    found = registry_checks(registry, None, crs=UTM, share_distance_m=55.0)
    # Only M3-M4 (50 m) is within 55 m; no stations, no zones.
    assert found.counts() == {
        "station_on_no_mast": 0,
        "built_without_permit": 1,
        "share_candidate": 1,
        "in_no_build": 0,
    }


def test_registry_checks_row_order_changes_nothing(registry) -> None:
    shuffled = registry.sample(frac=1.0, random_state=np.random.default_rng(7).integers(1000))
    assert registry_checks(shuffled, None, crs=UTM).counts() == (
        registry_checks(registry, None, crs=UTM).counts()
    )


def _villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"village_id": ["V1"], "name": ["Nà Hin"]},
        geometry=[shapely.box(X0, Y0, X0 + 600, Y0 + 600)],
        crs=UTM,
    ).to_crs(4326)


def _figures(inputs: CoverageInputs) -> tuple[dict[str, float | None], str | None]:
    found = assess(inputs, CoverageConfig.model_validate({"mobile": {"model": "radius"}}))
    shares = {v.code: v.value for v in found.indicators if "sharing" in v.code}
    return shares, found.sharing_basis


def test_sharing_with_and_without_a_registry_on_the_same_towers() -> None:
    # Viettel and VNPT 10 m apart on T1; Viettel and MobiFone 20 m apart on two masts, T2
    # and T3. Positions alone make two shared locations; the registry says one of three
    # masts is shared.
    sites = _sites(
        [
            ("A", "Viettel", 0, 0, "T1"),
            ("B", "VNPT", 10, 0, "T1"),
            ("C", "Viettel", 500, 0, "T2"),
            ("D", "MobiFone", 520, 0, "T3"),
        ]
    )
    masts = _masts(
        [
            ("T1", 5, 0, "Tower Co", "built", "GP-1", ""),
            ("T2", 500, 0, "Viettel", "built", "GP-2", "Viettel"),
            ("T3", 520, 0, "MobiFone", "built", "GP-3", ""),
            ("T4", 900, 0, "VNPT", "planned", "", "VNPT;Viettel"),  # not built: not counted
        ]
    )
    clustered, basis = _figures(CoverageInputs(villages=_villages(), sites=sites))
    assert basis == "clustering"
    assert clustered == {"bts_site_sharing_ratio": 1.0, "bts_station_sharing_ratio": 1.0}
    registered, basis = _figures(CoverageInputs(villages=_villages(), sites=sites, masts=masts))
    assert basis == "registry"
    # T1 has 2 tenants (its sites), T2 and T3 one each: 1 of 3 masts, 2 of 4 tenancies.
    assert registered["bts_site_sharing_ratio"] == pytest.approx(1 / 3)
    assert registered["bts_station_sharing_ratio"] == pytest.approx(2 / 4)


def test_registry_tenants_count_without_their_sites() -> None:
    masts = _masts(
        [
            ("T1", 0, 0, "Tower Co", "built", "GP-1", "Viettel;VNPT;MobiFone"),
            ("T2", 900, 0, "Viettel", "built", "GP-2", "Viettel"),
        ]
    )
    found = mast_sharing(masts)
    assert found.table["n_operators"].tolist() == [3, 1]
    assert found.indicator.value == 0.5
    assert found.station_indicator.value == pytest.approx(3 / 4)
    # A site of a fourth operator on T2 makes it shared, and adds its tenancy.
    sites = _sites([("S", "Gmobile", 900, 0, "T2")])
    again = mast_sharing(masts, sites)
    assert again.table["operators"].tolist() == ["MobiFone;VNPT;Viettel", "Gmobile;Viettel"]
    assert again.indicator.value == 1.0 and again.table["site_ids"].tolist() == ["", "S"]


def test_registry_without_sites_still_counts_sharing() -> None:
    masts = _masts([("T1", 0, 0, "Tower Co", "built", "GP-1", "Viettel;VNPT")])
    shares, basis = _figures(CoverageInputs(villages=_villages(), masts=masts))
    assert basis == "registry" and shares["bts_site_sharing_ratio"] == 1.0


def test_permit_state() -> None:
    masts = pd.DataFrame(
        {
            "status": ["built", "built", "built", "permitted", "planned", "dismantled"],
            "permit_no": ["GP-1", "GP-2", None, "GP-4", None, None],
            "permit_date": ["2024-01-01", "2021-03-01", None, "2025-06-01", None, None],
        }
    )
    state = permit_state(masts, as_of=date(2025, 12, 31), valid_years=5, expiring_days=180)
    # GP-2 of March 2021 ends in March 2026, within 180 days of the end of 2025.
    assert state.tolist() == ["valid", "expiring", "missing", "valid", "not_needed", "not_needed"]
