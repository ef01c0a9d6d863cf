"""``hatangso demo``: generate the demo province and run the whole job on it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd

from hatangso.coverage.config import CoverageConfig
from hatangso.geo.progress import Progress, silent
from hatangso.scenarios.job import InputFiles, JobResult, run_coverage

__all__ = ["DEMO_CONFIG", "DEMO_TARGETS", "demo_challenges", "run_demo"]

log = logging.getLogger(__name__)

#: The national end-2025 targets (plan summary of December 2024) applied to the demo province.
DEMO_TARGETS = {
    "village_mobile_coverage": 1.0,
    "village_ftth_coverage": 1.0,
    "bts_site_sharing_ratio": 0.20,
    "key_area_5g_coverage": 1.0,
    "commune_data_network_connection": 1.0,
}

#: The demo's configuration (the YAML's keys): its targets, and the terrain model's clutter loss.
#: The terrain model sees bare ground; the demo's valleys are farmed and its slopes forested,
#: so it assumes 15 dB of clutter loss at the handset (of the order of ITU-R P.2108's median
#: terrestrial clutter loss at these frequencies) rather than none. Its report date is the end
#: of 2025, the year of its targets: the commitments are judged, and permits checked, then.
DEMO_CONFIG: dict[str, object] = {
    "targets": DEMO_TARGETS,
    "terrain": {"clutter_loss_db": 15.0},
    "registry": {"report_date": "2025-12-31"},
}


def run_demo(
    out_dir: str | Path,
    *,
    seed: int = 2023,
    progress: Progress | None = None,
) -> JobResult:
    """Generate the demo province into ``out_dir/data`` and run the coverage job on it.

    Parameters
    ----------
    out_dir
        Output folder; the generated inputs go to its ``data`` subfolder.
    seed
        Seed of the generated province (the same seed gives the same province).
    progress
        Told each step as it starts, and how far a counted step has got
        (:class:`~hatangso.geo.progress.Progress`); None reports nothing. The command line
        passes its progress display, the service its start-up state.

    Returns
    -------
    JobResult
    """
    from hatangso.geo.demo import generate_demo

    out_dir = Path(out_dir)
    step = progress or silent
    demo = generate_demo(out_dir / "data", seed=seed, progress=step)
    files = InputFiles(
        villages=demo.villages,
        sites=demo.sites,
        access_points=demo.access_points,
        fiber=demo.fiber,
        poles=demo.poles,
        ducts=demo.ducts,
        pois=demo.pois,
        settlements=demo.settlements,
        roads=demo.roads,
        dem=demo.dem,
        population=demo.population,
        samples=demo.samples,
        declared=demo.declared,
        masts=demo.masts,
        commitments=demo.commitments,
    )
    config = CoverageConfig.model_validate(DEMO_CONFIG)
    step("challenges")
    challenges = demo_challenges(out_dir, demo.villages, demo.samples, config)
    result = run_coverage(
        files,
        config,
        out_dir,
        progress=progress,
        title="Tỉnh Demo — hatangso",
        extra={"scenario": "demo"},
        challenges=challenges,
    )
    log.info("demo province run in %s", out_dir)
    return result


@dataclass(frozen=True)
class _DemoUser:
    name: str
    role: str
    operator: str | None = None
    province: str | None = None


def demo_challenges(
    out_dir: Path, villages_path: Path, samples_path: Path, config: CoverageConfig
) -> pd.DataFrame:
    """Return the demo's challenges, filing its two in ``out_dir/record.gpkg`` the first time.

    * ``CH-0001``, decided: the department's official says Viettel's 4G does not cover the
      village where Viettel's drive test measured the least (its samples, dated to last
      month for the demo, are the evidence); Viettel disputes with its site log; the
      official upholds the claim, so the village's answer rests on the decision.
    * ``CH-0002``, open: VNPT says MobiFone's 4G covers the next such village, a contract
      of shared sites as its evidence; MobiFone has 60 days to answer.

    A record that has challenges already (a demo run before, challenges filed since) is
    left as it is.
    """
    from hatangso.geo.store import open_store
    from hatangso.scenarios.challenges import (
        answer_challenge,
        decide_challenge,
        file_challenge,
        read_challenges,
    )

    with open_store(out_dir) as store:
        if len(read_challenges(store)):
            return read_challenges(store)
        villages = gpd.read_file(villages_path)
        samples = pd.read_csv(samples_path, dtype=str, keep_default_na=False)
        points = gpd.GeoDataFrame(
            samples,
            geometry=gpd.points_from_xy(samples["lon"].astype(float), samples["lat"].astype(float)),
            crs=4326,
        )
        placed = gpd.sjoin(points, villages[["village_id", "geometry"]], predicate="within")
        viettel = placed[placed["operator"] == "Viettel"]
        rsrp = viettel["rsrp_dbm"].astype(float)
        worst = (
            viettel.assign(ok=rsrp >= config.mobile.threshold_dbm)
            .groupby("village_id")["ok"]
            .agg(["mean", "size"])
            .query(f"size >= {config.challenges.min_samples}")
            .sort_values(["mean", "size"], ascending=[True, False])
        )
        first, second = (str(v) for v in worst.index[:2])
        now = datetime.now(UTC)
        # The drive test, dated to last month at its own time of day: fresh evidence.
        taken = pd.to_datetime(viettel["time"], utc=True)
        month_ago = (now - timedelta(days=30)).date()
        shifted = taken + (pd.Timestamp(month_ago, tz="UTC") - taken.dt.normalize())
        evidence = viettel.assign(time=shifted.dt.strftime("%Y-%m-%dT%H:%M:%SZ"), outdoor="yes")[
            viettel["village_id"] == first
        ]
        official = _DemoUser("so-tttt-demo", "official")
        filed = file_challenge(
            store,
            villages,
            official,
            village_id=first,
            operator="Viettel",
            tech="4G",
            claim="not_covered",
            evidence={
                "samples": evidence[
                    ["lon", "lat", "operator", "tech", "rsrp_dbm", "time", "outdoor"]
                ].to_dict("records")
            },
            note="Người dân phản ánh không có sóng 4G Viettel",
            rules=config.challenges,
            threshold_dbm=config.mobile.threshold_dbm,
            now=now,
        )
        answer_challenge(
            store,
            villages,
            _DemoUser("viettel-demo", "operator", "Viettel"),
            filed["challenge_id"],
            position="dispute",
            evidence={"document": "Nhật ký trạm BTS tháng trước"},
            rules=config.challenges,
            now=now,
        )
        decide_challenge(
            store,
            official,
            filed["challenge_id"],
            decision="upheld",
            note="Số liệu đo kiểm đủ điều kiện; nhật ký trạm không thay thế đo kiểm",
            now=now,
        )
        file_challenge(
            store,
            villages,
            _DemoUser("vnpt-demo", "operator", "VNPT"),
            village_id=second,
            operator="MobiFone",
            tech="4G",
            claim="covered",
            evidence={"document": "Hợp đồng dùng chung trạm số 15/2026"},
            rules=config.challenges,
            now=now,
        )
        return read_challenges(store)
