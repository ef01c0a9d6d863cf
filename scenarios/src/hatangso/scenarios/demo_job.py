"""``hatangso demo``: generate the demo province and run the whole job on it."""

from __future__ import annotations

import logging
from pathlib import Path

from hatangso.coverage.config import CoverageConfig
from hatangso.geo.progress import Progress, silent
from hatangso.scenarios.job import InputFiles, JobResult, run_coverage

__all__ = ["DEMO_CONFIG", "DEMO_TARGETS", "run_demo"]

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
    result = run_coverage(
        files,
        config,
        out_dir,
        progress=progress,
        title="Tỉnh Demo — hatangso",
        extra={"scenario": "demo"},
    )
    log.info("demo province run in %s", out_dir)
    return result
