from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hatangso.coverage.fiber import (
    ftth_distance_m,
    ftth_reasons,
    villages_within,
)
from hatangso.coverage.network import RoadNetwork

# A river runs west-east along y = 0 (metres, UTM 48N). Road S on the south bank (y = -100),
# nodes at x = 0, 600, 1200, 3000; road N on the north bank (y = 100), nodes at x = 0, 600,
# 3000; the only bridge at x = 3000.
RIVER_ROADS = RoadNetwork.from_edges(
    [[0, -100], [600, -100], [1200, -100], [3000, -100], [0, 100], [600, 100], [3000, 100]],
    [0, 1, 2, 4, 5, 3],
    [1, 2, 3, 5, 6, 6],
    crs="EPSG:32648",
)
AP = np.array([[1000.0, -120.0]])  # 20 m south of road S
VILLAGES = np.array(
    [
        [1100.0, -130.0],  # B: along roads 20 + 100 + 30 = 150; straight hypot(100, 10) = 100.50
        [1000.0, 80.0],  # A: across the river. Along roads by the bridge 20 + 2000 + 200 +
        # 2000 + 20 = 4240; straight 200
        [1000.0, -700.0],  # E: along roads 20 + 600 = 620; straight 580
    ]
)
LOGGER = "hatangso.coverage.fiber"
Array = npt.NDArray[np.float64]


def test_across_the_river_roads_say_no_straight_line_says_yes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        along = ftth_distance_m(
            VILLAGES, access_points_xy=AP, network=RIVER_ROADS, max_distance_m=500.0
        )
    assert not caplog.records
    np.testing.assert_allclose(along, [150.0, np.inf, np.inf])
    assert villages_within(along, max_distance_m=500.0).tolist() == [True, False, False]

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        straight = ftth_distance_m(VILLAGES, access_points_xy=AP, max_distance_m=500.0)
    np.testing.assert_allclose(straight, [np.hypot(100.0, 10.0), 200.0, np.inf])
    assert villages_within(straight, max_distance_m=500.0).tolist() == [True, True, False]
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "straight lines to the access points" in record.getMessage()


def test_cables_only(caplog: pytest.LogCaptureFixture) -> None:
    # A cable 50 m south of road S: B is 20 m from it, A 230 m, E 550 m.
    cable = shapely.LineString([(0, -150), (3000, -150)])
    cables = np.array([None, shapely.LineString(), cable], dtype=object)  # unusable ones skipped
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        got = ftth_distance_m(
            VILLAGES, access_points_xy=np.empty((0, 2)), cables=cables, max_distance_m=500.0
        )
        with_roads = ftth_distance_m(
            VILLAGES,
            access_points_xy=[],
            cables=cables,
            network=RIVER_ROADS,
            max_distance_m=1000.0,
        )
    np.testing.assert_allclose(got, [20.0, 230.0, np.inf])
    np.testing.assert_allclose(with_roads, [20.0, 230.0, 550.0])
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert all("straight lines to the nearest cable" in m for m in messages)
    assert "not along the roads" in messages[1]


def test_access_points_win_over_cables() -> None:
    cable = shapely.LineString([(1000, 100), (1000, -700)])  # through every village
    got = ftth_distance_m(
        VILLAGES, access_points_xy=AP, cables=[cable], network=RIVER_ROADS, max_distance_m=500.0
    )
    np.testing.assert_allclose(got, [150.0, np.inf, np.inf])


def test_no_fiber_at_all(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        got = ftth_distance_m(
            VILLAGES, access_points_xy=[], network=RIVER_ROADS, max_distance_m=500.0
        )
    assert np.isinf(got).all() and got.shape == (3,)
    assert "no fiber access point and no cable" in caplog.records[0].getMessage()


def test_one_operator_is_a_subset_of_the_sources() -> None:
    # Viettel 20 m south of road S, VNPT 20 m north of road N, both at x = 1000.
    ap_xy = np.array([[1000.0, -120.0], [1000.0, 120.0]])
    operator = np.array(["Viettel", "VNPT"])
    reach = {
        name: ftth_distance_m(
            VILLAGES,
            access_points_xy=ap_xy[operator == name],
            network=RIVER_ROADS,
            max_distance_m=500.0,
        )
        for name in ("Viettel", "VNPT")
    }
    both = ftth_distance_m(
        VILLAGES, access_points_xy=ap_xy, network=RIVER_ROADS, max_distance_m=500.0
    )
    # A is 20 + 20 = 40 m from VNPT's point along road N.
    np.testing.assert_allclose(reach["Viettel"], [150.0, np.inf, np.inf])
    np.testing.assert_allclose(reach["VNPT"], [np.inf, 40.0, np.inf])
    np.testing.assert_allclose(both, np.minimum(reach["Viettel"], reach["VNPT"]))


def test_straight_line_limits() -> None:
    # Limit 0: only a village on the access point itself is in reach.
    on_and_near = [[1000.0, -120.0], [1000.0, -119.0]]
    got = ftth_distance_m(on_and_near, access_points_xy=AP, max_distance_m=0.0)
    assert got.tolist() == [0.0, np.inf]
    # No limit: plain nearest distances.
    got = ftth_distance_m(VILLAGES, access_points_xy=AP, max_distance_m=np.inf)
    np.testing.assert_allclose(got, [np.hypot(100.0, 10.0), 200.0, 580.0])
    assert ftth_distance_m([], access_points_xy=AP, max_distance_m=1.0).shape == (0,)
    with pytest.raises(ValueError, match="max_distance_m"):
        ftth_distance_m(VILLAGES, access_points_xy=AP, max_distance_m=float("nan"))
    with pytest.raises(ValueError, match="access_points_xy"):
        ftth_distance_m(VILLAGES, access_points_xy=[1.0, 2.0, 3.0], max_distance_m=1.0)


points = hnp.arrays(
    np.float64,
    st.tuples(st.integers(1, 15), st.just(2)),
    elements=st.floats(-200.0, 3200.0, allow_nan=False),
)


@settings(max_examples=80, deadline=None)
@given(targets=points, access_points=points, limit=st.floats(0.0, 5000.0))
def test_property_straight_line_is_the_nearest_and_roads_are_longer(
    targets: Array,
    access_points: Array,
    limit: float,
) -> None:
    gaps = np.hypot(*(targets[:, None, :] - access_points[None, :, :]).transpose(2, 0, 1))
    nearest = gaps.min(axis=1)
    straight = ftth_distance_m(targets, access_points_xy=access_points, max_distance_m=limit)
    clear = np.abs(nearest - limit) > 1e-6  # leave ties at the limit to rounding
    expected = np.where(nearest <= limit, nearest, np.inf)
    np.testing.assert_allclose(straight[clear], expected[clear], atol=1e-9)
    along = ftth_distance_m(
        targets, access_points_xy=access_points, network=RIVER_ROADS, max_distance_m=limit
    )
    assert (along >= straight - 1e-6).all()
    by_road = villages_within(along, max_distance_m=limit)
    assert (by_road <= villages_within(straight, max_distance_m=limit)).all()


def test_reasons_name_the_point_and_how_it_was_measured() -> None:
    # B is 150 m from AP along the roads; A and E are beyond 500 m. B and E give their centre.
    along = ftth_distance_m(VILLAGES, access_points_xy=AP, network=RIVER_ROADS, max_distance_m=500)
    reasons = ftth_reasons(
        along,
        at_centre=[True, False, True],
        access_points_xy=AP,
        network=RIVER_ROADS,
        max_distance_m=500,
    )
    assert reasons.tolist() == [
        "fiber access point 150 m from the village centre (cultural house) along the roads, "
        "limit 500 m",
        "no fiber access point within the 500 m limit of the village's interior point "
        "(no centre given) along the roads",
        "no fiber access point within the 500 m limit of the village centre (cultural house) "
        "along the roads",
    ]
    # With cables alone the distance is a straight line to a cable, roads or not.
    cable = np.array([shapely.LineString([(0, -150), (3000, -150)])], dtype=object)
    by_cable = ftth_reasons(
        [20.0, 230.0, np.inf],
        at_centre=False,
        access_points_xy=np.empty((0, 2)),
        cables=cable,
        network=RIVER_ROADS,
        max_distance_m=500,
    )
    assert by_cable[1] == (
        "fiber cable 230 m from the village's interior point (no centre given) in a straight "
        "line, limit 500 m"
    )
    nothing = ftth_reasons(
        [np.inf], at_centre=[True], access_points_xy=[], cables=None, max_distance_m=500
    )
    assert nothing.tolist() == [
        "no fiber access point or cable given, so none within the 500 m limit of the village "
        "centre (cultural house)"
    ]
