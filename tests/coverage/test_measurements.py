"""Samples streamed to villages, the QCVN 81 availability rule, the basis and the disputes."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hatangso.coverage.measurements import aggregate_samples, decide_basis
from hatangso.geo.errors import InputError

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


def villages_at(boxes: list[tuple[float, float, float, float]]) -> gpd.GeoDataFrame:
    geoms = [shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes]
    n = len(geoms)
    return gpd.GeoDataFrame(
        {"village_id": [f"V{i}" for i in range(n)], "name": [f"Thôn {i}" for i in range(n)]},
        geometry=geoms,
        crs=UTM,
    ).to_crs(4326)


def lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = gpd.GeoSeries(shapely.points(X0 + x, Y0 + y), crs=UTM).to_crs(4326)
    return pts.x.to_numpy(), pts.y.to_numpy()


def samples_in(
    box: tuple[float, float, float, float], rsrp: list[float], operator: str = "Viettel"
) -> pd.DataFrame:
    """Samples on a line across the middle of `box`, one per level in `rsrp`."""
    a, b, c, d = box
    n = len(rsrp)
    x = np.linspace(a + 10, c - 10, n)
    lon, lat = lonlat(x, np.full(n, (b + d) / 2))
    return pd.DataFrame(
        {
            "lon": lon.round(7),
            "lat": lat.round(7),
            "operator": operator,
            "tech": "4G",
            "rsrp_dbm": rsrp,
            "time": "2024-09-09T08:00:00+07:00",
            "source": "drive_test",
        }
    )


# Four villages of 1 km x 1 km in a row.
BOXES = [(0, 0, 1000, 1000), (1000, 0, 2000, 1000), (2000, 0, 3000, 1000), (3000, 0, 4000, 1000)]


def levels(n_good: int, n_bad: int) -> list[float]:
    # -110 dBm is the threshold: exactly -110 counts as available (at or above).
    return [-110.0] * n_good + [-110.1] * n_bad


@pytest.fixture
def case(tmp_path: Path):
    """V0: 3 samples (all good); V1: 47/50 good = 94 %; V2: 48/50 = 96 %; V3: 20/50 = 40 %."""
    frame = pd.concat(
        [
            samples_in(BOXES[0], levels(3, 0)),
            samples_in(BOXES[1], levels(47, 3)),
            samples_in(BOXES[2], levels(48, 2)),
            samples_in(BOXES[3], levels(20, 30)),
        ],
        ignore_index=True,
    )
    path = tmp_path / "samples.csv"
    frame.to_csv(path, index=False)
    villages = villages_at(BOXES)
    return villages, aggregate_samples(path, villages, threshold_dbm=-110.0)


def test_counts_per_village(case):
    _, summary = case
    by = summary.by_village.set_index("village_id")
    assert by["n_samples"].tolist() == [3, 50, 50, 50]
    assert by["n_at_or_above"].tolist() == [3, 47, 48, 20]
    assert by["availability"].tolist() == pytest.approx([1.0, 0.94, 0.96, 0.40])
    assert (summary.read, summary.rejected, summary.outside) == (153, 0, 0)
    assert summary.counts() == {"read": 153, "used": 153, "rejected": 0, "repaired": 0}
    row = summary.by_operator.iloc[0]
    assert (row.village_id, row.operator, row.tech) == ("V0", "Viettel", "4G")


def test_samples_outside_every_village_are_counted_in_the_notes(tmp_path: Path) -> None:
    # 10 samples in V0's square and 5 more 1 km south of every village: 5 of 15 count nowhere.
    frame = pd.concat(
        [samples_in(BOXES[0], levels(10, 0)), samples_in((0, -1500, 1000, -1000), levels(5, 0))],
        ignore_index=True,
    )
    path = tmp_path / "samples.csv"
    frame.to_csv(path, index=False)
    summary = aggregate_samples(path, villages_at(BOXES), threshold_dbm=-110.0)
    assert summary.outside == 5
    assert summary.notes == (
        "samples: 5 of the 15 kept samples lie outside every village polygon and count for none",
    )


def test_villages_given_as_points_say_that_no_sample_counts(tmp_path: Path) -> None:
    # The villages' centres as points: the 10 samples inside V0's square count for no village
    # (a point holds nothing), and the notes say so and what to give instead.
    path = tmp_path / "samples.csv"
    samples_in(BOXES[0], levels(10, 0)).to_csv(path, index=False)
    villages = villages_at(BOXES)
    points = villages.set_geometry(villages.to_crs(UTM).centroid.to_crs(4326))
    summary = aggregate_samples(path, points, threshold_dbm=-110.0)
    assert summary.outside == 10
    assert summary.by_village["n_samples"].sum() == 0
    assert summary.notes == (
        "samples: none of the 10 kept samples counts for a village: samples are counted inside "
        "village polygons and the villages are points; give the villages' outlines to measure "
        "coverage and commune speeds",
    )


def predicted(villages: gpd.GeoDataFrame, covered: list[bool], serving: list[str]):
    return villages.assign(covered_mobile=covered, serving_operators=serving)


def test_94_vs_96_percent_and_insufficient_samples(case):
    villages, summary = case
    # The prediction says nobody covers any village.
    v = predicted(villages, [False] * 4, [""] * 4)
    out = decide_basis(v, summary, None, min_samples=30, min_availability=0.95).villages
    # V0: 3 samples, all above the threshold: insufficient, so the prediction (uncovered)
    # stands; never silently covered.
    assert out.loc[0, "measured_status"] == "insufficient samples"
    assert out.loc[0, "mobile_basis"] == "predicted"
    assert not out.loc[0, "covered_mobile"]
    assert out.loc[0, "n_samples"] == 3
    # V1 94 % < 95 %: measured, not covered. V2 96 % >= 95 %: measured, covered.
    assert out.loc[1, "mobile_basis"] == "measured"
    assert not out.loc[1, "covered_mobile"]
    assert out.loc[1, "measured_availability"] == pytest.approx(0.94)
    assert out.loc[2, "mobile_basis"] == "measured"
    assert out.loc[2, "covered_mobile"]
    assert out.loc[2, "measured_availability"] == pytest.approx(0.96)


def test_min_samples_is_configurable(case):
    villages, summary = case
    v = predicted(villages, [False] * 4, [""] * 4)
    out = decide_basis(v, summary, None, min_samples=3, min_availability=0.95).villages
    assert out.loc[0, "mobile_basis"] == "measured"
    assert out.loc[0, "covered_mobile"]


def test_declared_covered_but_measured_40_percent_is_disputed(case):
    villages, summary = case
    # Viettel declares V2 and V3 and the prediction agrees; the drive test finds 96 % of 50
    # samples in V2 (all three agree) but 40 % of 50 in V3.
    v = predicted(villages, [False, False, True, True], ["", "", "Viettel", "Viettel"])
    declared = pd.DataFrame({"village_id": ["V2", "V3"], "operator": "Viettel", "tech": "4G"})
    decision = decide_basis(v, summary, declared, min_samples=30, min_availability=0.95)
    out = decision.villages
    assert out["disputed"].tolist() == [False, False, False, True]
    assert not out.loc[3, "covered_mobile"]
    assert out.loc[3, "declared_operators"] == "Viettel"
    assert out.loc[1, "declared_operators"] == ""
    (row,) = decision.disputes.itertuples(index=False)
    assert (row.village_id, row.name, row.operator) == ("V3", "Thôn 3", "Viettel")
    assert (bool(row.declared), bool(row.predicted), row.samples) == (True, True, 50)
    assert row.measured == pytest.approx(0.40)
    assert row.basis == "measured"
    assert "measured 40% of 50 samples" in row.reason
    assert decision.counts["measured"] == 3
    assert decision.counts["predicted"] == 1
    assert decision.counts["insufficient_samples"] == 1
    assert decision.counts["disputed_villages"] == 1
    block = decision.kpis_block()
    json.dumps(block)  # JSON-ready
    assert block["disputes"][0]["measured"] == 0.4


def test_declared_against_prediction_without_measurement():
    villages = villages_at(BOXES[:2])
    v = predicted(villages, [False, True], ["", "Viettel"])
    declared = pd.DataFrame({"village_id": ["V0"], "operator": ["Viettel"], "tech": ["4G;5G"]})
    decision = decide_basis(v, None, declared, min_samples=30, min_availability=0.95)
    # V0 declared, not predicted, not measured: disputed. V1 predicted but not declared by
    # an operator that filed a list: disputed too (the bases disagree both ways).
    assert decision.villages["disputed"].tolist() == [True, True]
    assert decision.villages["mobile_basis"].tolist() == ["predicted", "predicted"]
    # The answer stays the prediction's.
    assert decision.villages["covered_mobile"].tolist() == [False, True]
    reasons = decision.disputes["reason"].tolist()
    assert reasons == [
        "declared covered; predicted uncovered; not measured",
        "not declared; predicted covered; not measured",
    ]


def test_declared_basis_without_prediction(caplog: pytest.LogCaptureFixture):
    villages = villages_at(BOXES[:2])
    declared = pd.DataFrame(
        {"village_id": ["V1", "V9"], "operator": ["VNPT", "VNPT"], "tech": "4G"}
    )
    decision = decide_basis(villages, None, declared, min_samples=30, min_availability=0.95)
    # V9 is no village of the layer: the warning names it and the fix.
    assert (
        "declarations: 1 row(s) name village ids not in the village layer ('V9') and count for "
        "no village; correct their village_id to one of the villages' ids"
    ) in caplog.text
    assert decision.villages["mobile_basis"].tolist() == ["declared", "declared"]
    assert decision.villages["covered_mobile"].tolist() == [False, True]
    assert decision.counts["declared_unknown_villages"] == 1
    assert decision.disputes.empty


def test_measured_covered_but_predicted_uncovered_is_disputed(case):
    villages, summary = case
    v = predicted(villages, [False] * 4, [""] * 4)
    decision = decide_basis(v, summary, None, min_samples=30, min_availability=0.95)
    # Only V2 (96 %) contradicts the prediction; V1 and V3 agree with it (uncovered).
    assert decision.disputes["village_id"].tolist() == ["V2"]


def test_bad_rows_are_rejected_with_their_row_numbers(tmp_path: Path):
    villages = villages_at(BOXES[:1])
    lon, lat = lonlat(np.array([500.0]), np.array([500.0]))
    good = f"{lon[0]:.7f},{lat[0]:.7f}"
    text = "\n".join(
        [
            "Kinh độ,Vĩ độ,Nhà mạng,Công nghệ,RSRP",
            f"{good},vinaphone,LTE,-100",  # 1: fine (VNPT, 4G)
            f",{lat[0]:.7f},Viettel,4G,-100",  # 2: no longitude
            f"{good},Viettel,4G,abc",  # 3: RSRP not a number
            f"{good},Viettel,4G,-200",  # 4: RSRP implausible
            f"{good},,4G,-100",  # 5: no operator
            f"{good},Viettel,6G,-100",  # 6: unknown technology
            "2.35,48.85,Viettel,4G,-100",  # 7: Paris
            f"{good},mobi,5G,-90",  # 8: fine (MobiFone, 5G)
        ]
    )
    path = tmp_path / "mau.csv"
    path.write_text(text + "\n", encoding="utf-8")
    summary = aggregate_samples(path, villages, threshold_dbm=-110.0)
    assert summary.rejects["row"].tolist() == [2, 3, 4, 5, 6, 7]
    assert summary.rejects["file"].eq("mau.csv").all()
    reasons = summary.rejects["reason"].tolist()
    assert reasons[0] == "empty 'Kinh độ' (lon). Fix: fill in the coordinate"
    assert "rsrp_dbm is blank or not a number" in reasons[1]
    assert "outside -160 to -20" in reasons[2]
    assert "operator is blank" in reasons[3]
    assert "tech" in reasons[4]
    assert "outside Vietnam" in reasons[5]
    assert (summary.read, summary.used, summary.rejected) == (8, 2, 6)
    got = summary.by_operator[["operator", "tech", "n_samples"]].values.tolist()
    assert sorted(got) == [["MobiFone", "5G", 1], ["VNPT", "4G", 1]]


def test_decimal_commas_and_semicolons(tmp_path: Path):
    villages = villages_at(BOXES[:1])
    lon, lat = lonlat(np.array([500.0, 600.0]), np.array([500.0, 500.0]))
    lines = ["lon;lat;operator;tech;rsrp_dbm"] + [
        f"{str(round(a, 7)).replace('.', ',')};{str(round(b, 7)).replace('.', ',')};Viettel;4G;{r}"
        for a, b, r in zip(lon, lat, ["-95,5", "-111,5"], strict=True)
    ]
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = aggregate_samples(path, villages, threshold_dbm=-110.0)
    assert summary.by_village["n_samples"].tolist() == [2]
    assert summary.by_village["n_at_or_above"].tolist() == [1]


def test_swapped_coordinates_stop_the_file(tmp_path: Path):
    villages = villages_at(BOXES[:1])
    lon, lat = lonlat(np.array([500.0]), np.array([500.0]))
    path = tmp_path / "s.csv"
    path.write_text(f"lon,lat,operator,tech,rsrp_dbm\n{lat[0]},{lon[0]},Viettel,4G,-90\n")
    with pytest.raises(InputError, match="swapped"):
        aggregate_samples(path, villages, threshold_dbm=-110.0)


def test_missing_required_column_stops_the_file(tmp_path: Path):
    path = tmp_path / "s.csv"
    path.write_text("lon,lat,operator,tech\n105.9,22.1,Viettel,4G\n")
    with pytest.raises(InputError, match="rsrp_dbm"):
        aggregate_samples(path, villages_at(BOXES[:1]), threshold_dbm=-110.0)


def test_projected_xy_with_crs(tmp_path: Path):
    path = tmp_path / "s.csv"
    path.write_text(f"x,y,operator,tech,rsrp_dbm\n{X0 + 1500},{Y0 + 500},Viettel,4G,-90\n")
    villages = villages_at(BOXES)
    with pytest.raises(InputError, match="--crs"):
        aggregate_samples(path, villages, threshold_dbm=-110.0)
    summary = aggregate_samples(path, villages, threshold_dbm=-110.0, crs=f"EPSG:{UTM}")
    assert summary.by_village["n_samples"].tolist() == [0, 1, 0, 0]


def test_streamed_blocks_and_raster_index_match_exact_point_in_polygon(tmp_path: Path):
    # Irregular villages sharing borders (Voronoi cells of 40 random points in a 6 km square)
    # and 6,000 random samples (~330 kB, so 64 kB blocks give several chunks). The counts
    # must equal a direct STRtree point-in-polygon count, whatever the block size.
    rng = np.random.default_rng(7)
    seeds = shapely.multipoints(np.add(rng.uniform(0, 6000, (40, 2)), (X0, Y0)))
    square = shapely.box(X0, Y0, X0 + 6000, Y0 + 6000)
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=square))
    cells = shapely.intersection(cells, square)
    villages = gpd.GeoDataFrame(
        {"village_id": [f"V{i}" for i in range(len(cells))]}, geometry=cells, crs=UTM
    ).to_crs(4326)
    n = 6000
    lon, lat = lonlat(rng.uniform(-500, 6500, n), rng.uniform(-500, 6500, n))
    ops = rng.choice(["Viettel", "VNPT", "MobiFone"], n)
    rsrp = rng.normal(-105, 10, n).round(1)
    frame = pd.DataFrame(
        {"lon": lon.round(7), "lat": lat.round(7), "operator": ops, "tech": "4G", "rsrp_dbm": rsrp}
    )
    path = tmp_path / "many.csv"
    frame.to_csv(path, index=False)
    pts = shapely.points(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    hit_p, hit_v = villages.sindex.query(pts, predicate="within")
    expected = np.bincount(hit_v, minlength=len(villages))
    expected_ok = np.bincount(hit_v[rsrp[hit_p] >= -110.0], minlength=len(villages))
    for chunk_rows in (1000, 1_000_000):
        summary = aggregate_samples(path, villages, threshold_dbm=-110.0, chunk_rows=chunk_rows)
        assert summary.by_village["n_samples"].tolist() == expected.tolist()
        assert summary.by_village["n_at_or_above"].tolist() == expected_ok.tolist()
        assert summary.outside == n - len(hit_p)
        per_op = summary.by_operator.groupby("village_id")["n_samples"].sum()
        assert per_op.sum() == len(hit_p)


def test_dispute_csv_and_geopackage_samples(tmp_path: Path, case):
    villages, summary = case
    v = predicted(villages, [False, False, True, True], ["", "", "Viettel", "Viettel"])
    decision = decide_basis(v, summary, None, min_samples=30, min_availability=0.95)
    path = decision.write_disputes(tmp_path / "disputes.csv")
    back = pd.read_csv(path)
    assert back.columns.tolist() == [
        "village_id",
        "name",
        "operator",
        "declared",
        "predicted",
        "measured",
        "samples",
        "basis",
        "reason",
    ]
    # V3: predicted covered, measured 40 %: the one dispute.
    assert back["village_id"].tolist() == ["V3"]
    # The same samples as a GeoPackage go through the layer validator and count the same.
    frame = pd.concat(
        [samples_in(BOXES[1], levels(47, 3)), samples_in(BOXES[2], levels(48, 2))],
        ignore_index=True,
    )
    points = gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]),
        geometry=shapely.points(frame["lon"], frame["lat"]),
        crs=4326,
    )
    gpkg = tmp_path / "samples.gpkg"
    points.to_file(gpkg, layer="samples", driver="GPKG")
    from_gpkg = aggregate_samples(gpkg, villages, threshold_dbm=-110.0)
    assert from_gpkg.by_village["n_at_or_above"].tolist() == [0, 47, 48, 0]
    assert from_gpkg.read == 100


def test_unmeasured_villages_keep_the_predicted_answer(case):
    villages, summary = case
    # V0 (3 samples, insufficient) is predicted covered although no operator covers it alone
    # (two operators' footprints together reach the share the rule needs): nothing was
    # measured there, so the prediction's answer stands as it is.
    v = predicted(villages, [True, False, False, False], ["", "", "", ""])
    out = decide_basis(v, summary, None, min_samples=30, min_availability=0.95).villages
    assert out.loc[0, "mobile_basis"] == "predicted"
    assert out.loc[0, "covered_mobile"]
    assert not out.loc[0, "disputed"]
    # Measured villages are still decided by their measurement (V2: 96 %).
    assert out["covered_mobile"].tolist() == [True, False, True, False]


def _official_village(tmp_path: Path, good_at_centre: int, bad_at_cluster: int):
    """A 4 x 1 km village, centre at its west end, one cluster at its east end."""
    import pyproj

    from hatangso.coverage.villages import village_points

    villages = villages_at([(0, 0, 4000, 1000)])
    centre_lon, centre_lat = lonlat(np.array([500.0]), np.array([500.0]))
    villages["centre_lon"], villages["centre_lat"] = centre_lon, centre_lat
    cx, cy = lonlat(np.array([3500.0]), np.array([500.0]))
    settlements = gpd.GeoDataFrame(
        {"settlement_id": ["C1"], "village_id": ["V0"]},
        geometry=shapely.points(cx, cy),
        crs=4326,
    )
    points = village_points(villages, pyproj.CRS(UTM), settlements=settlements)
    x = np.r_[np.linspace(300, 700, good_at_centre), np.linspace(3300, 3700, bad_at_cluster)]
    lon, lat = lonlat(x, np.full(len(x), 500.0))
    frame = pd.DataFrame(
        {
            "lon": lon.round(7),
            "lat": lat.round(7),
            "operator": "Viettel",
            "tech": "4G",
            "rsrp_dbm": [-90.0] * good_at_centre + [-120.0] * bad_at_cluster,
        }
    )
    path = tmp_path / "samples.csv"
    frame.to_csv(path, index=False)
    return villages, points, path


def test_official_rule_is_measured_at_the_centre_and_every_cluster(tmp_path: Path):
    # 600 strong samples at the centre, 30 weak ones at the cluster: 600/630 = 95.2 % over
    # the village, but the cluster, with enough samples, has no signal (0 %). Under the
    # official rule the measurement says the village is dark, against the prediction.
    villages, points, path = _official_village(tmp_path, 600, 30)
    summary = aggregate_samples(
        path, villages, threshold_dbm=-110.0, points=points, rule="official"
    )
    assert summary.by_village["n_samples"].tolist() == [630]
    assert summary.by_point["point"].tolist() == [0, 1]  # the centre, then the cluster
    assert summary.by_point["n_at_or_above"].tolist() == [600, 0]
    assert summary.points_per_village.tolist() == [2]
    v = predicted(villages, [True], ["Viettel"])
    decision = decide_basis(v, summary, None, min_samples=30, min_availability=0.95)
    out = decision.villages
    assert out.loc[0, "mobile_basis"] == "measured"
    assert not out.loc[0, "covered_mobile"]
    assert out.loc[0, "disputed"]
    assert "below 95% at the centre or a cluster" in decision.disputes["reason"].iloc[0]
    # Counted over the village, as the point rule does, the same samples pass.
    plain = aggregate_samples(path, villages, threshold_dbm=-110.0)
    assert plain.by_point is None
    over_village = decide_basis(v, plain, None, min_samples=30, min_availability=0.95)
    assert over_village.villages.loc[0, "covered_mobile"]


def test_official_rule_unmeasured_cluster_leaves_the_prediction(tmp_path: Path):
    # 40 strong samples at the centre and none at the cluster: the cluster is not measured,
    # so the measurement does not answer the rule and the prediction stands.
    villages, points, path = _official_village(tmp_path, 40, 0)
    summary = aggregate_samples(
        path, villages, threshold_dbm=-110.0, points=points, rule="official"
    )
    for covered in (True, False):
        v = predicted(villages, [covered], ["Viettel" if covered else ""])
        out = decide_basis(v, summary, None, min_samples=30, min_availability=0.95).villages
        assert out.loc[0, "mobile_basis"] == "predicted"
        assert out.loc[0, "covered_mobile"] == covered
        assert out.loc[0, "measured_status"] == "insufficient samples"
        assert not out.loc[0, "disputed"]


def test_samples_go_to_the_nearest_point_of_their_own_village():
    import pyproj

    from hatangso.coverage.measurements import _point_places, _village_index
    from hatangso.coverage.villages import village_points

    # V0's only point is its centre, far west; V1 has twelve clusters just east of the
    # border, nearer to V0's eastern samples than V0's centre is. Every sample must still go
    # to a point of its own village, the nearest one.
    villages = villages_at([(0, 0, 4000, 1000), (4000, 0, 8000, 1000)])
    rng = np.random.default_rng(5)
    cxy = np.column_stack([rng.uniform(4050, 4600, 12), rng.uniform(100, 900, 12)])
    clon, clat = lonlat(cxy[:, 0], cxy[:, 1])
    settlements = gpd.GeoDataFrame(
        {"settlement_id": [f"C{i}" for i in range(12)], "village_id": "V1"},
        geometry=shapely.points(clon, clat),
        crs=4326,
    )
    points = village_points(villages, pyproj.CRS(UTM), settlements=settlements)
    places = _point_places(_village_index(villages), points, "official")
    sxy = np.column_stack([rng.uniform(10, 7990, 400), rng.uniform(10, 990, 400)])
    lon, lat = lonlat(sxy[:, 0], sxy[:, 1])
    got = places.locate(lon, lat)
    village_of, pxy = points.rule_points("official")
    own = (sxy[:, 0] >= 4000).astype(int)
    d2 = ((sxy[:, None, 0] + X0 - pxy[None, :, 0]) ** 2) + (
        (sxy[:, None, 1] + Y0 - pxy[None, :, 1]) ** 2
    )
    d2[village_of[None, :] != own[:, None]] = np.inf
    assert (village_of[got] == own).all()
    assert got.tolist() == d2.argmin(axis=1).tolist()


def test_disputes_csv_quotes_formulas(tmp_path: Path) -> None:
    from hatangso.coverage.measurements import BasisDecision

    disputes = pd.DataFrame(
        {"village_id": ['=HYPERLINK("http://x","y")', "@SUM(1)"], "operator": ["-2+3", "x"]}
    )
    decision = BasisDecision(villages=pd.DataFrame(), disputes=disputes, counts={})
    written = pd.read_csv(decision.write_disputes(tmp_path / "out" / "disputes.csv"), dtype=str)
    assert written["village_id"].tolist() == ['\'=HYPERLINK("http://x","y")', "'@SUM(1)"]
    assert written["operator"].tolist() == ["'-2+3", "x"]
