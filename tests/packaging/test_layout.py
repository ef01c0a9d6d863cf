"""The package as tools see it: the wheel, pkgutil, coverage.py beside it, a user's mypy.

Each top-level folder is a source root of the namespace package ``hatangso``; these tests check
what that layout promises from outside the editable install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = ["src", "app/src", "geo/src", "coverage/src", "scenarios/src"]
PARTS = ["app", "geo", "coverage", "scenarios"]
PLANS = sorted((REPO / "scenarios").glob("*.yaml"))


def _package_files() -> set[str]:
    """Every file of the package in the source tree, as its path inside the wheel.

    The shipped scenario files (``scenarios/*.yaml``) are linked from
    ``hatangso/scenarios/plans/``, so they are among them.
    """
    files = set()
    for root in SOURCE_ROOTS:
        base = REPO / root
        for path in (base / "hatangso").rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(path.relative_to(base).as_posix())
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        pytest.skip("uv is not installed beside this Python (make test installs it)")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [str(uv), "build", "--wheel", "--quiet", "--out-dir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("hatangso-*.whl")
    return built


@pytest.mark.slow
def test_wheel_carries_every_file_of_every_part(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        members = {name for name in archive.namelist() if name.startswith("hatangso/")}
    expected = _package_files()
    assert expected - members == set(), "missing from the wheel"
    assert members - expected == set(), "in the wheel but not in the source tree"
    for part in PARTS:
        assert f"hatangso/{part}/py.typed" in members
    assert "hatangso/__init__.py" not in members  # a namespace package


@pytest.mark.slow
def test_unpacked_wheel_imports_and_walks_without_the_source_tree(
    wheel: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
    # -S: no site module, so the editable install's .pth is not read; the dependencies are
    # reached by putting site-packages itself on the path.
    script = f"""
import sys
sys.path[:0] = [{str(tmp_path / "site")!r}, {sysconfig.get_path("purelib")!r}]
import pkgutil, importlib.resources as res
import hatangso, hatangso.cli, hatangso.app.main, hatangso.coverage.engine, hatangso.scenarios.job
assert all(p.startswith({str(tmp_path)!r}) for p in hatangso.__path__), hatangso.__path__
names = {{m.name for m in pkgutil.walk_packages(hatangso.__path__, "hatangso.")}}
print(len(names))
assert (res.files("hatangso.scenarios") / "assets" / "markercluster").is_dir()
assert (res.files("hatangso.scenarios") / "assets" / "leaflet" / "leaflet.js").is_file()
assert (res.files("hatangso.app") / "static" / "docs" / "redoc" / "redoc.standalone.js").is_file()
from hatangso.app.workspace import registered_scenarios, shipped_plans
plans = shipped_plans()
assert all(str(p).startswith({str(tmp_path)!r}) for p in plans.values()), plans
assert sorted(plans) == {sorted(p.stem for p in PLANS)!r}, plans
assert set(plans) <= set(registered_scenarios())
"""
    done = subprocess.run(
        [sys.executable, "-S", "-P", "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    modules = {
        p.relative_to(REPO / root).with_suffix("").as_posix().replace("/", ".")
        for root in SOURCE_ROOTS
        for p in (REPO / root / "hatangso").rglob("*.py")
    }
    assert int(done.stdout) == len({m.removesuffix(".__init__") for m in modules})


def test_the_shipped_plans_are_found_in_the_source_tree() -> None:
    from hatangso.app.workspace import shipped_plans

    plans = shipped_plans()
    assert {"demo", "ca-mau", "tien-giang", "bac-kan", "hong-phong"} <= set(plans)
    # Each is a link to the repository's own file: an editable install reads no stale copy.
    assert sorted(p.resolve() for p in plans.values()) == PLANS
    assert len(PLANS) == len(plans)


def test_pkgutil_walks_every_part_of_the_installed_package() -> None:
    import pkgutil

    import hatangso

    names = {m.name for m in pkgutil.walk_packages(hatangso.__path__, "hatangso.")}
    for part in PARTS:
        assert f"hatangso.{part}" in names
    assert {"hatangso.cli", "hatangso.coverage.engine", "hatangso.app.main"} <= names


def test_import_coverage_at_the_repository_root_is_coverage_py() -> None:
    pytest.importorskip("coverage")
    done = subprocess.run(
        [sys.executable, "-c", "import coverage, sys; print(coverage.__file__)"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert Path(done.stdout.strip()).parent.parent != REPO / "coverage"
    assert "site-packages" in done.stdout


@pytest.mark.slow
def test_a_users_mypy_sees_hatangsos_types(tmp_path: Path) -> None:
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    if mypy is None:
        pytest.skip("mypy is not installed beside this Python")
    script = tmp_path / "script.py"
    script.write_text(
        "from hatangso.coverage import assess\n"
        "from hatangso.coverage.propagation import free_space_loss\n"
        "reveal_type(assess)\n"
        "reveal_type(free_space_loss(1000.0, 900.0))\n"
        "free_space_loss('far', 900.0) + 'x'\n"
    )
    done = subprocess.run(
        [mypy, "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    lines = done.stdout.splitlines()
    assert 'Revealed type is "def (inputs: hatangso.coverage.engine.CoverageInputs' in lines[0]
    assert "numpy.ndarray" in lines[1]
    assert any("error" in line and "script.py:5" in line for line in lines), done.stdout
