"""The error hierarchy end to end: every user error exits 2, and no bare built-in error creeps in.

A :class:`~hatangso.geo.errors.HatangsoError` is a fault the user can fix; the command line
turns it into exit code 2 and a message on stderr. A bare ``ValueError`` or ``RuntimeError``
means a bug (exit 1). The allow-list below names every bare raise in library code that is a
programmer error, with the reason, so that a new one on a user's value is caught here.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import hatangso
from hatangso.cli import main
from hatangso.geo.errors import (
    ConflictError,
    HatangsoError,
    InfeasibleError,
    InputError,
    Problem,
)

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = ("src", "app/src", "geo/src", "coverage/src", "scenarios/src")


# ------------------------------------------------------------------------------------------
# Every subclass of HatangsoError, found rather than listed


def _import_all_modules() -> None:
    """Import every hatangso module, so that subclasses defined anywhere are registered."""
    for info in pkgutil.walk_packages(hatangso.__path__, prefix="hatangso."):
        importlib.import_module(info.name)


def _subclasses(cls: type[HatangsoError]) -> Iterator[type[HatangsoError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _subclasses(sub)


_import_all_modules()
ERROR_CLASSES = sorted(set(_subclasses(HatangsoError)), key=lambda c: c.__qualname__)


def make_error(cls: type[HatangsoError]) -> HatangsoError:
    """An instance of `cls` whose message is unique to it: a Problem for input errors.

    A subclass whose constructor takes more (an ITM error code, the villages out of reach) is
    built without it: the command line and the service read only the class and the message.
    """
    problem = Problem(
        file="thon.csv",
        row=3,
        column="village_id",
        message=f"{cls.__name__} raised on purpose",
        fix="do what the message says",
    )
    message = (
        str(problem) if issubclass(cls, InputError) else f"{problem.message}. Fix: {problem.fix}"
    )
    try:
        return cls(problem) if issubclass(cls, InputError) else cls(message)
    except TypeError:
        error = cls.__new__(cls)
        Exception.__init__(error, message)
        if isinstance(error, InputError):
            error.problems = (problem,)
        return error


def test_the_hierarchy_has_its_known_members() -> None:
    names = {c.__name__ for c in ERROR_CLASSES}
    assert {"HatangsoError", "InputError", "ConfigError", "CRSError", "InfeasibleError"} <= names


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_cli_maps_every_hatangso_error_to_exit_2(
    cls: type[HatangsoError],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = make_error(cls)

    def fail(kind: str) -> None:
        raise error

    # `validate` looks its KIND up first: the error comes out of the library, as a real one does.
    monkeypatch.setattr("hatangso.geo.schema.spec_for", fail)
    monkeypatch.setattr(sys, "argv", ["hatangso", "validate", "villages", str(tmp_path / "x.csv")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    assert exit_info.value.code == 2, captured.err
    assert f"{cls.__name__} raised on purpose" in captured.err
    assert "Fix: do what the message says" in captured.err
    if issubclass(cls, InputError):
        assert "thon.csv, row 3, column 'village_id'" in captured.err
    assert "Traceback" not in captured.err
    assert "internal error" not in captured.err
    assert captured.out == ""


def test_cli_maps_a_bare_value_error_to_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(kind: str) -> None:
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr("hatangso.geo.schema.spec_for", fail)
    monkeypatch.setattr(sys, "argv", ["hatangso", "validate", "villages", str(tmp_path / "x.csv")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    assert "a bug in hatangso" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "towers", "x.csv"], "KIND: unknown input kind 'towers'"),
        (["demo", "--seed", "-1"], "options, column 'seed': seed must be a non-negative"),
    ],
    ids=["kind", "seed"],
)
def test_cli_real_user_errors_exit_2(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["hatangso", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert message in err
    assert "Fix:" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------
# The service: one handler; 403 forbidden, 404 not found, 409 conflict, 422 any other user error


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The service on an empty workspace, with a route raising any error by its class name."""
    from hatangso.app.config import Settings
    from hatangso.app.main import create_app

    settings = Settings.model_validate(
        {"workspace": tmp_path_factory.mktemp("workspace"), "demo": False, "prewarm": False}
    )
    application = create_app(settings)
    by_name = {cls.__qualname__: cls for cls in ERROR_CLASSES}

    @application.get("/test-raise/{name}")
    def raise_it(name: str) -> None:
        if name == "ValueError":
            raise ValueError("an internal invariant broke")
        raise make_error(by_name[name])

    with TestClient(application, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_service_maps_every_hatangso_error_to_4xx(
    cls: type[HatangsoError], service: TestClient
) -> None:
    response = service.get(f"/test-raise/{cls.__qualname__}")
    from hatangso.app.main import status_code

    expected = status_code(make_error(cls))
    assert expected in (403, 404, 409, 422)
    if issubclass(cls, (InfeasibleError, ConflictError)):
        assert expected == 409
    elif cls.__name__ in ("InputError", "ConfigError", "CRSError"):
        assert expected == 422
    assert response.status_code == expected, response.text
    body = response.json()
    assert f"{cls.__name__} raised on purpose" in body["detail"]
    assert "Fix: do what the message says" in body["detail"]
    assert "Traceback" not in response.text
    if issubclass(cls, InputError):
        assert body["problems"] == [
            {
                "file": "thon.csv",
                "row": 3,
                "column": "village_id",
                "message": f"{cls.__name__} raised on purpose",
                "fix": "do what the message says",
            }
        ]
    else:
        assert body["problems"] == []


def test_service_answers_500_to_a_bug(service: TestClient) -> None:
    response = service.get("/test-raise/ValueError")
    assert response.status_code == 500
    assert "internal invariant" not in response.text


# ------------------------------------------------------------------------------------------
# No bare built-in error in library code but the programmer errors listed here

#: (file under a source root, exception, start of the message) -> why it is a programmer error.
#: The message start is the text before the first ``{...}`` of an f-string; ``<name>`` for a
#: message passed as a variable.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("hatangso/coverage/speed.py", "ValueError", "no speed indicator for"): (
        "the technology is chosen by code from SPEED_INDICATORS, never by a user's input"
    ),
    ("hatangso/coverage/overlays.py", "RuntimeError", "rasterio returned no size"): (
        "rasterio always sizes a warped grid whose source size is given"
    ),
    ("hatangso/scenarios/job.py", "KeyError", "villages"): (
        "InputFiles.from_paths is called by code that has required the villages option"
    ),
    ("hatangso/coverage/measurements.py", "ValueError", "the village points carry no CRS"): (
        "the engine builds the village points with their CRS"
    ),
    ("hatangso/coverage/measurements.py", "ValueError", "points must be built from the same"): (
        "the engine passes the points of the villages it aggregates"
    ),
    ("hatangso/coverage/villages.py", "ValueError", "hit has "): (
        "the caller computes one hit per rule point"
    ),
    ("hatangso/scenarios/maps.py", "RuntimeError", "map page would load from outside: "): (
        "our own page template must never load from outside"
    ),
    ("hatangso/app/workspace.py", "ValueError", "invalid scenario name "): (
        "register_scenario is called by code with a fixed name"
    ),
    ("hatangso/geo/demo.py", "RuntimeError", "a commune's Voronoi diagram lost a village"): (
        "an invariant of the demo generator"
    ),
    (
        "hatangso/geo/demo.py",
        "RuntimeError",
        "a village has no road-grid node on its bank within 5 cells",
    ): "an invariant of the demo generator",
    ("hatangso/geo/encoding.py", "UnicodeDecodeError", ""): "the codec protocol",
    ("hatangso/geo/units.py", "ModuleNotFoundError", "vietnamadminunits is not installed"): (
        "a dependency of hatangso itself: only a broken installation lacks it"
    ),
    ("hatangso/scenarios/challenges.py", "ValueError", "now must be timezone-aware"): (
        "the steps' callers pass the service's or a test's aware clock"
    ),
    ("hatangso/geo/encoding.py", "UnicodeEncodeError", ""): "the codec protocol",
    ("hatangso/geo/encoding.py", "ValueError", "value "): (
        "the caller must read the file as ISO-8859-1 before redecoding it"
    ),
    ("hatangso/geo/errors.py", "ValueError", "InputError needs at least one problem"): (
        "an InputError is built by code with its problems"
    ),
    ("hatangso/geo/schema.py", "KeyError", "<name>"): "LayerSpec.column is looked up by code",
    ("hatangso/coverage/_discarea.py", "ValueError", ""): (
        "the kernel's arrays are built by hatangso.coverage.mobile"
    ),
    ("hatangso/coverage/clusters.py", "ValueError", "the population raster must be 2-D, got "): (
        "the raster is read by code, one band"
    ),
    ("hatangso/coverage/clusters.py", "ValueError", "connectivity must be 4 or 8, got "): (
        "no file, option or configuration key sets the connectivity"
    ),
    ("hatangso/coverage/network.py", "ValueError", ""): (
        "node and edge arrays are built by load_roads; points come from validated layers"
    ),
    ("hatangso/coverage/propagation.py", "ValueError", "large_city=True applies only to "): (
        "large_city is set by code only (no file, option or configuration key)"
    ),
    ("hatangso/coverage/radio.py", "ValueError", ""): (
        "per-site arrays come from one site table; reaches from site_reach_m; segments by code"
    ),
    ("hatangso/coverage/rasters.py", "ValueError", ""): (
        "grids built by the readers; reader options that only code passes"
    ),
    ("hatangso/coverage/terrain.py", "ValueError", ""): (
        "profiles and point arrays built by code; step_m set by code only"
    ),
}

#: How many bare raises each allow-listed (file, exception) holds, so that a new one in a file
#: allow-listed wholesale (message start "") is caught too.
ALLOWED_COUNTS: dict[tuple[str, str], int] = {
    ("hatangso/coverage/_discarea.py", "ValueError"): 10,
    ("hatangso/coverage/network.py", "ValueError"): 7,
    ("hatangso/coverage/radio.py", "ValueError"): 3,
    ("hatangso/coverage/rasters.py", "ValueError"): 6,
    ("hatangso/coverage/terrain.py", "ValueError"): 4,
}

_BUILTIN_ERRORS = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)
_PYDANTIC_VALIDATORS = frozenset({"field_validator", "model_validator", "validator"})


def _message_start(call: ast.expr) -> str:
    if not isinstance(call, ast.Call) or not call.args:
        return ""
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    if isinstance(first, ast.JoinedStr):
        text = []
        for part in first.values:
            if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                break
            text.append(part.value)
        return "".join(text)
    return "<name>"


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


class _BareRaises(ast.NodeVisitor):
    """Collect ``raise <BuiltinError>(...)`` outside pydantic validators and ``__getattr__``."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str, str]] = []
        self._skip = 0

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # pydantic turns a validator's ValueError into a ValidationError, which the loaders
        # report as a ConfigError; a module's __getattr__ must raise AttributeError.
        skip = node.name == "__getattr__" or any(
            _decorator_name(d) in _PYDANTIC_VALIDATORS for d in node.decorator_list
        )
        self._skip += skip
        self.generic_visit(node)
        self._skip -= skip

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc
        target = exc.func if isinstance(exc, ast.Call) else exc
        if not self._skip and isinstance(target, ast.Name) and target.id in _BUILTIN_ERRORS:
            assert exc is not None
            self.found.append((node.lineno, target.id, _message_start(exc)))
        self.generic_visit(node)


def bare_raises() -> list[tuple[str, int, str, str]]:
    """Every bare built-in raise in library code: (file, line, exception, message start)."""
    found = []
    for root in SOURCE_ROOTS:
        for path in sorted((ROOT / root).rglob("*.py")):
            visitor = _BareRaises()
            visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
            relative = path.relative_to(ROOT / root).as_posix()
            found += [(relative, line, name, start) for line, name, start in visitor.found]
    return found


def _allowed(file: str, name: str, start: str) -> tuple[str, str, str] | None:
    for key in ALLOWED:
        if key[:2] == (file, name) and start.startswith(key[2]):
            return key
    return None


def test_no_bare_builtin_raise_outside_the_allow_list() -> None:
    found = bare_raises()
    assert found, "the scan found nothing: are the source roots right?"
    offending = [
        f"{root_file}:{line}: raise {name}({start!r}...)"
        for root_file, line, name, start in found
        if _allowed(root_file, name, start) is None
    ]
    assert not offending, (
        "A bare built-in error in library code is a bug to the command line (exit 1) and the "
        "service (500). Raise an InputError (or ConfigError, CRSError, InfeasibleError) from "
        "hatangso.geo.errors naming the file, row, column or key and the fix; if it really is "
        "a programmer error, add it to ALLOWED with the reason:\n" + "\n".join(offending)
    )
    counts: dict[tuple[str, str], int] = {}
    for root_file, _, name, _ in found:
        counts[root_file, name] = counts.get((root_file, name), 0) + 1
    for key, expected in ALLOWED_COUNTS.items():
        assert counts.get(key, 0) == expected, (
            f"{key[0]} holds {counts.get(key, 0)} bare {key[1]}, the allow-list {expected}: "
            "a new one on a user's value must be an InputError; update ALLOWED_COUNTS only "
            "for a programmer error"
        )


def test_the_allow_list_has_no_stale_entry() -> None:
    used = {_allowed(f, name, start) for f, _, name, start in bare_raises()}
    assert set(ALLOWED) <= used, f"no longer raised: {sorted(set(ALLOWED) - used)}"
