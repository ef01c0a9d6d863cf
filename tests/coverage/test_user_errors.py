"""Values a user can fix raise an InputError (or ConfigError, CRSError) naming where and how.

Each message names the input (the sites layer, the configuration key, the arguments) and the
fix, as the command line prints it on exit 2 and the service returns it with a 422.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from rasterio.crs import CRS
from rasterio.transform import from_origin

from hatangso.coverage import radio
from hatangso.coverage.calibration import Calibration, calibrate_sites
from hatangso.coverage.clusters import residential_clusters
from hatangso.coverage.config import parse_config
from hatangso.coverage.fiber import ftth_distance_m
from hatangso.coverage.measurements import aggregate_samples
from hatangso.coverage.mobile import mobile_coverage, site_table
from hatangso.coverage.network import RoadNetwork, network_distance
from hatangso.coverage.propagation import free_space_loss, hata_loss
from hatangso.coverage.rasters import Raster
from hatangso.coverage.terrain import coverage_rasters, judge_villages, site_loss_at
from hatangso.geo.errors import ConfigError, CRSError, InputError

NAN = float("nan")
UTM48 = CRS.from_epsg(32648)
X0, Y0 = 600_000.0, 2_450_000.0


def _sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "site_id": ["S0"],
            "operator": ["Viettel"],
            "tech": ["4G"],
            "height_m": [30.0],
            "env": ["rural"],
        },
        geometry=[shapely.Point(X0, Y0)],
        crs=32648,
    )


# ------------------------------------------------------------------------------------------
# radio: the sites' columns and the mobile section of the configuration


def test_site_columns_name_the_sites_layer_and_the_column() -> None:
    with pytest.raises(InputError, match=r"^sites, column 'env': unknown env for site 0") as info:
        radio.resolve_site_radio(
            tech=["4G"], env=["forest"], height_m=NAN, eirp_dbm=NAN, freq_mhz=NAN
        )
    (problem,) = info.value.problems
    assert (problem.file, problem.column) == ("sites", "env")
    assert problem.fix == "use one of urban, suburban, rural"
    with pytest.raises(InputError, match=r"column 'height_m': height_m must be a positive.*Fix"):
        radio.resolve_site_radio(tech=["4G"], env="rural", height_m=0.0, eirp_dbm=NAN, freq_mhz=NAN)
    with pytest.raises(InputError, match=r"column 'eirp_dbm'.*infinity at sites \[0\]"):
        radio.resolve_site_radio(
            tech=["4G"], env="rural", height_m=NAN, eirp_dbm=math.inf, freq_mhz=NAN
        )
    with pytest.raises(InputError, match=r"sites, column 'beamwidth_deg'.*leave it empty"):
        radio.in_beam(10.0, 0.0, -5.0)


def _reach(**changes: object) -> object:
    options: dict[str, object] = {
        "tech": ["4G"],
        "model": "hata",
        "env": ["rural"],
        "height_m": 30.0,
        "eirp_dbm": NAN,
        "freq_mhz": NAN,
        "radius_m": None,
        "threshold_dbm": -110.0,
    }
    options.update(changes)
    return radio.site_reach_m(**options)  # type: ignore[arg-type]


def test_reach_options_are_configuration_errors() -> None:
    with pytest.raises(ConfigError, match=r"configuration, column 'mobile.model': unknown model"):
        _reach(model="terrain")
    with pytest.raises(
        ConfigError, match=r"'mobile.threshold_dbm': threshold_dbm must be a finite number"
    ):
        _reach(threshold_dbm=NAN)
    with pytest.raises(ConfigError, match=r"'mobile.radius_m': radius_m has no entry for 4G/rural"):
        _reach(model="radius", radius_m={"5G": {"rural": 100.0}})
    with pytest.raises(ConfigError, match=r"radius_m values must be >= 0 m\. Fix"):
        _reach(model="radius", radius_m={"4G": {"rural": -1.0}})
    with pytest.raises(InputError, match="h_rx_m must be greater than 0 m; got -1"):
        _reach(h_rx_m=-1.0)


def test_programmer_errors_stay_bare() -> None:
    # Arrays of different lengths are built by code, never typed by a user: not an InputError.
    with pytest.raises(ValueError, match="one value per site") as info:
        radio.footprints([0.0, 1.0], [0.0], [1.0, 2.0, 3.0], [NAN], [NAN])
    assert not isinstance(info.value, InputError)


# ------------------------------------------------------------------------------------------
# propagation


def test_path_loss_arguments_are_input_errors() -> None:
    with pytest.raises(InputError, match=r"arguments, column 'freq_mhz': freq_mhz must be great"):
        hata_loss(1000.0, -900.0, 30.0, 1.5)
    with pytest.raises(InputError, match=r"column 'env': unknown env 'dense'\. Fix: use one of"):
        hata_loss([1000.0, 2000.0], 900.0, 30.0, 1.5, env=["urban", "dense"])
    with pytest.raises(InputError, match="distance_m must be greater than 0 m; got 0"):
        free_space_loss(np.array([100.0, 0.0]), 900.0)


# ------------------------------------------------------------------------------------------
# mobile, terrain


def test_unknown_rule_names_the_configuration_key() -> None:
    table = site_table(_sites(), model="hata", radius_m={}, threshold_dbm=-110.0)
    villages = gpd.GeoDataFrame(
        {"village_id": ["v"]}, geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100)], crs=32648
    )
    with pytest.raises(ConfigError, match=r"'mobile.rule': unknown rule 'majority'") as info:
        mobile_coverage(villages, table, rule="majority", min_share=0.5)
    assert info.value.problems[0].fix == "use point, area, population or official"


def _flat_dem(rows: int, cols: int, cell_m: float = 30.0) -> Raster:
    return Raster(
        np.zeros((rows, cols), dtype=np.float32),
        from_origin(0.0, rows * cell_m, cell_m, cell_m),
        UTM48,
    )


def test_terrain_options_and_dem_are_user_errors() -> None:
    dem = _flat_dem(20, 20)
    with pytest.raises(ConfigError, match=r"'terrain.method': unknown terrain model 'okumura'"):
        site_loss_at(dem, 300.0, 300.0, [1.0], [1.0], h_tx_m=30.0, freq_mhz=1800.0,
                     radius_m=500.0, model="okumura")  # type: ignore[arg-type]  # fmt: skip
    with pytest.raises(InputError, match=r"^DEM: the DEM needs at least 2 x 2 cells.*--dem"):
        site_loss_at(_flat_dem(1, 20), 300.0, 15.0, [1.0], [1.0], h_tx_m=30.0,
                     freq_mhz=1800.0, radius_m=500.0)  # fmt: skip


def test_population_rule_without_the_grid_says_to_pass_it() -> None:
    dem = _flat_dem(40, 40)
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": ["VNPT"]}, geometry=[shapely.Point(600, 600)], crs=UTM48
    )
    cov = coverage_rasters(dem, sites, radius_m=500.0, threshold_dbm=-110.0)
    village = gpd.GeoDataFrame(
        {"village_id": ["v"]}, geometry=[shapely.box(500, 500, 700, 700)], crs=UTM48
    )
    with pytest.raises(ConfigError, match=r"'mobile.rule': rule='population' needs.*--population"):
        judge_villages(village, cov, rule="population")
    # The grids answer every rule (official too, at the centre and clusters); an unknown one
    # names the configuration key.
    with pytest.raises(ConfigError, match=r"'mobile.rule': unknown rule 'bogus'"):
        judge_villages(village, cov, rule="bogus")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# fiber, network, clusters, measurements, calibration, configuration


def test_ftth_distance_names_its_configuration_key() -> None:
    with pytest.raises(ConfigError, match=r"'ftth.max_distance_m': max_distance_m must be >= 0"):
        ftth_distance_m([[0.0, 0.0]], access_points_xy=[[1.0, 0.0]], max_distance_m=NAN)
    roads = RoadNetwork.from_edges([[0, 0], [100, 0]], [0], [1], crs="EPSG:32648")
    with pytest.raises(ConfigError, match=r"'ftth.max_distance_m': .*not -1"):
        network_distance(roads, [[1.0, 0.0]], [[1.0, 0.0]], max_distance_m=-1.0)


def test_cluster_density_is_an_input_error() -> None:
    transform = from_origin(X0, Y0, 100.0, 100.0)
    with pytest.raises(InputError, match=r"'min_density_per_km2'.*got -1.*people per km²"):
        residential_clusters(np.ones((3, 3)), transform, 32648, min_density_per_km2=-1.0)


def test_samples_need_villages_in_lon_lat(tmp_path) -> None:  # type: ignore[no-untyped-def]
    villages = gpd.GeoDataFrame(
        {"village_id": ["v"]}, geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100)], crs=32648
    )
    with pytest.raises(CRSError, match=r"EPSG:4326; reproject them first"):
        aggregate_samples(tmp_path / "samples.csv", villages, threshold_dbm=-110.0)


def test_calibration_grouped_by_another_column_says_to_fit_again() -> None:
    table = site_table(_sites(), model="hata", radius_m={}, threshold_dbm=-110.0)
    calibration = Calibration(
        by=("tech",),
        groups=(),
        reference_distance_m=1000.0,
        min_samples=30,
        rmse_before_db=0.0,
        bias_before_db=0.0,
        rmse_after_db=0.0,
        bias_after_db=0.0,
    )
    with pytest.raises(InputError, match=r"^calibration, column 'by': .*\['tech'\]\. Fix: fit"):
        calibrate_sites(table, calibration, threshold_dbm=-110.0)


def test_configuration_faults_are_configuration_errors() -> None:
    with pytest.raises(ConfigError, match=r"^run.yaml, column 'mobile.rule'") as info:
        parse_config({"mobile": {"rule": "majority"}}, source="run.yaml")
    assert isinstance(info.value, InputError)
    with pytest.raises(ConfigError, match="must be a mapping of sections"):
        parse_config(["mobile"], source="run.yaml")
