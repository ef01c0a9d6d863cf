"""``hatangso demo``: generate the demo province and run the whole job on it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from hatangso.coverage.config import CoverageConfig
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
#: terrestrial clutter loss at these frequencies) rather than none.
DEMO_CONFIG: dict[str, object] = {"targets": DEMO_TARGETS, "terrain": {"clutter_loss_db": 15.0}}


def run_demo(
    out_dir: str | Path,
    *,
    seed: int = 2023,
    progress: Callable[[str], None] | None = None,
) -> JobResult:
    """Generate the demo province into ``out_dir/data`` and run the coverage job on it.

    Parameters
    ----------
    out_dir
        Output folder; the generated inputs go to its ``data`` subfolder.
    seed
        Seed of the generated province (the same seed gives the same province).
    progress
        Called with the name of each step as it starts; None reports nothing. The command line
        passes its status printer.

    Returns
    -------
    JobResult
    """
    from hatangso.geo.demo import generate_demo

    out_dir = Path(out_dir)
    step = progress or (lambda _name: None)
    step("generating the demo province")
    demo = generate_demo(out_dir / "data", seed=seed)
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
