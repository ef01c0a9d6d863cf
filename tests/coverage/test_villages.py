"""The village rules, on demand points and shares whose answers are derived by hand."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from hatangso.coverage.villages import (
    RuleAnswer,
    VillagePoints,
    judge,
    rule_reasons,
    serving_operators,
    village_points,
)

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


def _villages() -> gpd.GeoDataFrame:
    # V0: 2 x 2 km with a given centre; V1: 2 x 2 km to the east, without one.
    frame = gpd.GeoDataFrame(
        {"village_id": ["V0", "V1"]},
        geometry=[
            shapely.box(X0, Y0, X0 + 2000, Y0 + 2000),
            shapely.box(X0 + 2000, Y0, X0 + 4000, Y0 + 2000),
        ],
        crs=UTM,
    ).to_crs(4326)
    centre = gpd.GeoSeries(shapely.points([(X0 + 100, Y0 + 100)]), crs=UTM).to_crs(4326)
    frame["centre_lon"] = [centre.x[0], np.nan]
    frame["centre_lat"] = [centre.y[0], np.nan]
    return frame


def test_village_points_centres_and_clusters() -> None:
    villages = _villages()
    # C0 names V1; C1 names nobody and lies in V0; C2 lies in no village: dropped.
    settlements = gpd.GeoDataFrame(
        {"settlement_id": ["C0", "C1", "C2"], "village_id": ["V1", None, None]},
        geometry=shapely.points(
            [(X0 + 500, Y0 + 500), (X0 + 1500, Y0 + 1500), (X0 + 9000, Y0 + 9000)]
        ),
        crs=UTM,
    ).to_crs(4326)
    points = village_points(villages, pyproj.CRS(UTM), settlements=settlements)
    assert points.n_villages == 2
    # The given centre, and V1's representative point standing in for its centre.
    assert points.centre_xy[0] == pytest.approx([X0 + 100, Y0 + 100], abs=0.01)
    np.testing.assert_allclose(points.centre_xy[1], points.representative_xy[1])
    assert points.centre_given.tolist() == [True, False]
    assert points.subset(np.array([1, 0])).centre_given.tolist() == [False, True]
    assert points.cluster_village.tolist() == [1, 0]
    assert points.cluster_row.tolist() == [0, 1]
    village, xy = points.rule_points("official")
    assert village.tolist() == [0, 1, 1, 0]
    assert xy[2] == pytest.approx([X0 + 500, Y0 + 500], abs=0.01)
    for rule in ("point", "area", "population"):
        village, xy = points.rule_points(rule)
        assert village.tolist() == [0, 1]
        np.testing.assert_allclose(xy, points.representative_xy)


def test_centre_given_by_hand_says_where_the_centre_differs() -> None:
    # Built without has_centre, a village has a centre where it is not its representative point.
    points = VillagePoints(
        np.array([[0.0, 0.0], [5.0, 5.0]]),
        np.array([[0.0, 0.0], [5.0, 9.0]]),
        np.empty(0, dtype=np.int64),
        np.empty((0, 2)),
        np.empty(0, dtype=np.int64),
    )
    assert points.centre_given.tolist() == [False, True]


def _points(clusters: list[int]) -> VillagePoints:
    k = len(clusters)
    return VillagePoints(
        np.zeros((3, 2)),
        np.zeros((3, 2)),
        np.array(clusters, dtype=np.int64),
        np.zeros((k, 2)),
        np.arange(k, dtype=np.int64),
    )


def test_official_needs_the_centre_and_every_cluster() -> None:
    # Centres of V0, V1, V2, then clusters of V0, V0, V1. V0: all lit; V1: its cluster dark;
    # V2: no cluster, centre dark.
    points = _points([0, 0, 1])
    answer = judge("official", points, hit=[True, True, False, True, True, False], min_share=0.5)
    assert answer.covered.tolist() == [True, False, False]
    assert answer.share.tolist() == [1.0, 0.0, 0.0]
    reasons = rule_reasons("official", answer, min_share=0.5).tolist()
    assert reasons[0] == "centre and every residential cluster covered"
    assert reasons[1] == "the centre or a residential cluster has no signal"


def test_area_and_population_fall_back() -> None:
    points = _points([0])
    hit = [True, False, True]
    # V0: 45 % of its area; V1 and V2 are points: their representative point decides.
    area = judge("area", points, hit=hit, area_share=[0.45, np.nan, np.nan], min_share=0.4)
    assert area.covered.tolist() == [True, False, True]
    assert area.share.tolist() == [0.45, 0.0, 1.0]
    # People: V0 only 10 % covered; V1 holds nobody, so its area share (none: its point) counts.
    people = judge(
        "population",
        points,
        hit=hit,
        area_share=[0.45, np.nan, 0.9],
        people_share=[0.1, np.nan, 0.5],
        min_share=0.4,
    )
    assert people.share.tolist() == [0.1, 0.0, 0.5]
    assert people.covered.tolist() == [False, False, True]
    # A share equal to min_share counts.
    assert judge("area", points, hit=hit, area_share=[0.4, 0, 0], min_share=0.4).covered[0]


def test_bad_rule_and_bad_hits() -> None:
    points = _points([])
    with pytest.raises(ValueError, match="unknown rule"):
        judge("centre", points, hit=[True] * 3, min_share=0.5)
    with pytest.raises(ValueError, match="points"):
        judge("point", points, hit=[True] * 2, min_share=0.5)


def test_serving_operators_sorted() -> None:
    got = serving_operators({"Viettel": [True, False, False], "MobiFone": [True, True, False]}, 3)
    assert got.tolist() == ["MobiFone;Viettel", "MobiFone", ""]


@given(
    st.lists(st.booleans(), min_size=6, max_size=6),
    st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_more_lit_points_never_uncover(a, b) -> None:
    points = _points([0, 0, 1])
    more = np.array(a) | np.array(b)
    before = judge("official", points, hit=a, min_share=0.5).covered
    after = judge("official", points, hit=more, min_share=0.5).covered
    assert (after >= before).all()


def test_rule_answer_reasons_for_points_and_shares() -> None:
    answer = RuleAnswer(np.array([True, False]), np.array([1.0, 0.0]))
    assert rule_reasons("point", answer, min_share=0.5).tolist() == [
        "representative point inside a site's footprint",
        "representative point outside every footprint",
    ]
    shares = RuleAnswer(np.array([True, False]), np.array([0.7, 0.3]))
    assert rule_reasons("population", shares, min_share=0.5).tolist() == [
        "70% of the people covered",
        "only 30% of the people covered (needs 50%)",
    ]
