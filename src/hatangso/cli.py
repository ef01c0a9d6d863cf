"""The ``hatangso`` command line.

Exit codes, as the contract fixes them: 0 done; 1 an internal error (a bug); 2 a problem with
the user's input or options, with a message on stderr naming the file, row, column and the fix.
A reader that closes the output early (``hatangso validate ... | head -1``) ends the command
quietly with 141, the status of a Unix tool stopped by SIGPIPE (128 + 13).

The tables and counts go to stdout; progress, notes about the inputs (``warning: ...``) and
errors (``error: ...``) go to stderr, each once, through logging.
"""

from __future__ import annotations

import atexit
import errno
import gc
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hatangso.geo.errors import HatangsoError, InputError, Problem
from hatangso.geo.limits import WorkLimits
from hatangso.geo.schema import KINDS

app = typer.Typer(
    name="hatangso",
    help="Coverage planning for Vietnam's provincial digital-infrastructure plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# 128 + SIGPIPE: what a shell reports for `cat big | head -1`'s cat (SIGPIPE is 13 on Linux,
# macOS and the BSDs; Windows has no SIGPIPE, the status is the same there).
READER_GONE = 141


class _ReaderGone(BaseException):
    """The reader of the output closed it: the command stops, saying nothing more.

    A :class:`BaseException`, as :class:`KeyboardInterrupt` is: no ``except Exception`` on the
    way up takes it for a failure, while ``finally`` blocks still clean up.
    """


class _Console(Console):
    """A rich console that ends the command quietly when its reader closes the pipe."""

    def on_broken_pipe(self) -> None:
        """Point the closed stream at the null device and stop the command (rich exits 1).

        As the Python documentation advises ("Note on SIGPIPE"): the interpreter's own flush
        at exit then writes nowhere instead of failing again.
        """
        self.quiet = True
        _silence(self.file)
        raise _ReaderGone


def _silence(stream: Any) -> None:
    """Redirect the file descriptor under `stream` to the null device."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    except (AttributeError, OSError, ValueError):  # not a real file (a test's buffer)
        pass
    finally:
        os.close(devnull)


def _on_null_device(stream: Any) -> bool:
    """Whether `stream` writes to the null device."""
    try:
        return os.path.samestat(os.fstat(stream.fileno()), os.stat(os.devnull))
    except (AttributeError, OSError, ValueError):
        return False


# Wide enough for the KPI table when the output is a file or a pipe (rich assumes 80 columns).
out = _Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 110)
err = _Console(stderr=True, highlight=False, soft_wrap=True)


class ConsoleHandler(logging.Handler):
    """Log records as ``warning: message`` lines on the error console.

    One line a record, never wrapped (a pipe or CI log can be searched for a note whole), drawn
    above the progress bars rather than through them. A message is shown once a command: a
    scenario's years read the same inputs again and would repeat their notes. The service,
    which runs until stopped, sets `once` to False: its log shows every request's messages.
    """

    def __init__(self) -> None:
        super().__init__()
        self.once = True
        self._shown: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        """Print `record` as one line, unless the same line was printed already."""
        try:
            text = f"{record.levelname.lower()}: {self.format(record)}"
            if self.once:
                if text in self._shown:
                    return
                self._shown.add(text)
            err.print(text, markup=False, highlight=False, soft_wrap=True)
        except Exception:  # logging's contract: a failing handler does not stop the program
            self.handleError(record)


KINDS_HELP = "|".join(KINDS)
SHEET_HELP = "XLSX inputs: the sheet to read (default the first)."
MASTS_HELP = "Mast registry: masts with owner, status, permit and tenants."
COMMITMENTS_HELP = "Operators' commitments: village_id, operator, tech, due date."
HEADER_ROW_HELP = "XLSX inputs: the header's row number (default: found by its column names)."
WORKERS_HELP = (
    "Run the terrain model on a local Dask cluster of N worker processes (same answers; the "
    "dashboard's address is shown)."
)
SCHEDULER_HELP = "Run the terrain model on the Dask cluster of this scheduler, tcp://HOST:PORT."


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[ConsoleHandler()],
        force=True,
    )
    logging.getLogger("hatangso").setLevel(logging.INFO if verbose else logging.WARNING)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"hatangso {version('hatangso')}")
        raise typer.Exit()


#: The cyclic garbage collector's thresholds while a command other than ``serve`` runs. The
#: first two are Python's (young objects are collected as usual); the third makes a full
#: collection wait for 1,000 collections of the middle generation instead of 10. A full
#: collection walks every live object the collector tracks, and every shapely geometry is
#: one: on 100,000 villages and 120,000 sites the default thresholds ran nine of them, 0.6 to
#: 0.9 s of a 7 s ``coverage``, for no memory back (the peak was the same without them). A
#: command's own reference cycles are young and still collected.
BATCH_GC_THRESHOLDS = (700, 10, 1000)


def _batch_gc(ctx: typer.Context) -> None:
    """Collect garbage as a batch command needs (:data:`BATCH_GC_THRESHOLDS`), until it ends."""
    if ctx.invoked_subcommand in (None, "serve"):  # the service runs for days: Python's own
        return
    before = gc.get_threshold()
    gc.set_threshold(*BATCH_GC_THRESHOLDS)
    ctx.call_on_close(lambda: gc.set_threshold(*before))


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say more.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    out.quiet = False  # a command's --quiet holds for that command alone
    _setup_logging(verbose)
    _batch_gc(ctx)


@app.command()
def validate(
    kind: Annotated[str, typer.Argument(help=KINDS_HELP)],
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, Shapefile, CSV or XLSX.")],
    crs: Annotated[
        str | None, typer.Option(help="CRS of inputs without one: EPSG:…, PROJ, VN2000:<province>.")
    ] = None,
    columns: Annotated[
        str | None, typer.Option(help="Map columns: village_id=osm_id,name=ten.")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="Text encoding (utf-8, cp1258, tcvn3, vni); detected if absent."),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write the clean layer and rejects.csv here.")
    ] = None,
    sheet: Annotated[str | None, typer.Option(help=SHEET_HELP)] = None,
    header_row: Annotated[int | None, typer.Option(min=1, help=HEADER_ROW_HELP)] = None,
) -> None:
    """Load one input file, check it against the contract and report every rejected row."""
    _spreadsheet_options(sheet, header_row, file)
    _ready(out_dir)
    from hatangso.geo.schema import spec_for
    from hatangso.geo.validate import load_layer

    spec = spec_for(kind)  # an unknown kind is an InputError naming KIND
    layer = load_layer(
        file,
        spec.kind,
        crs=crs,
        columns=columns,
        encoding=encoding,
        sheet=sheet,
        header_row=header_row,
    )
    written = None
    if out_dir is not None:  # before the report: a reader that stops early loses no file
        from hatangso.geo.outputs import write_clean_layer, write_rejects

        written = (write_clean_layer(layer, out_dir), write_rejects([layer], out_dir))
    counts = layer.counts()
    out.print(
        f"{layer.name} ({layer.kind}): read {counts['read']}, used {counts['used']}, "
        f"rejected {counts['rejected']}, repaired {counts['repaired']}"
    )
    # The layer's notes (the sheet read, the encoding guessed, values read as unknown) went to
    # stderr as they were made, through logging, like every command's: not repeated here.
    if layer.rejected:
        table = Table("row", "id", "reason", title="rejected rows")
        for row in layer.rejects.itertuples(index=False):
            table.add_row(str(row.row), str(row.id), str(row.reason))
        out.print(table)
    if written is not None:
        out.print(f"wrote {written[0]} and {written[1]}")


def _spreadsheet_options(sheet: str | None, header_row: int | None, *inputs: Path | None) -> None:
    """Refuse --sheet and --header-row when no input is an XLSX workbook (exit 2).

    They would be ignored: a CSV or GeoPackage has no sheets, and its header is its first row.
    """
    given = [
        option
        for option, value in (("--sheet", sheet), ("--header-row", header_row))
        if value is not None
    ]
    if not given or any(p is not None and p.suffix.lower() == ".xlsx" for p in inputs):
        return
    raise InputError(
        Problem(
            file="command line",
            message=f"{' and '.join(given)} read XLSX workbooks, and no input is one",
            fix=f"leave out {' and '.join(given)}, or give the .xlsx file",
        )
    )


def _ready(
    out_dir: Path | None,
    *,
    sheet: str | None = None,
    header_row: int | None = None,
    **inputs: Path | None,
) -> None:
    """Check a command's input paths and make its output folder, before any work.

    `inputs` maps each option's name (``dem`` for ``--dem``; upper case for an argument,
    ``SCENARIO``) to its path; `sheet` and `header_row` must find an XLSX input among them
    (:func:`_spreadsheet_options`). Every missing input and an output folder that cannot be made
    are reported at once (exit 2), so that a long run does not stop at its last step on a path
    mistyped in its first; the folder is made only when nothing is wrong.
    """
    _spreadsheet_options(sheet, header_row, *inputs.values())
    problems = [
        Problem(
            file=path.name or str(path),
            message=f"no such file or folder: {path} ({_given_as(option)})",
            fix="check the path",
        )
        for option, path in inputs.items()
        if path is not None and not path.exists()
    ]
    if out_dir is not None:
        problems.extend(_out_problems(out_dir))
    if problems:
        raise InputError(problems)
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # what the checks above cannot foresee (/proc, a full disk)
            raise InputError(
                Problem(
                    file=str(out_dir),
                    message=f"--out: the folder cannot be made ({exc.strerror or exc})",
                    fix=_OUT_FIX,
                )
            ) from None


def _is_iso_day(text: str) -> bool:
    """Whether `text` is a calendar day written ``YYYY-MM-DD``."""
    from datetime import date

    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _given_as(name: str) -> str:
    """Say where a path was given: ``the SCENARIO argument`` or ``given to --access-points``."""
    return f"the {name} argument" if name.isupper() else f"given to --{name.replace('_', '-')}"


_OUT_FIX = "give a folder you may write in (it is made if missing)"


def _out_problems(folder: Path) -> list[Problem]:
    """Return why the ``--out`` folder could not be made or written, without making it."""
    if folder.exists() and not folder.is_dir():
        return [Problem(file=str(folder), message="--out names a file, not a folder", fix=_OUT_FIX)]
    parent = folder
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        message = f"--out: {parent} is a file, so no folder can be made under it"
        return [Problem(file=str(folder), message=message, fix=_OUT_FIX)]
    if not os.access(parent, os.W_OK | os.X_OK):
        message = f"--out: {parent} is not writable"
        return [Problem(file=str(folder), message=message, fix=_OUT_FIX)]
    return []


def _limits() -> WorkLimits:
    """Return the limits on a run's work: the defaults, changed by ``HATANGSO_MAX_*``."""
    return WorkLimits.from_environ(os.environ)


class StepDisplay:
    """The command line's progress: what each long step does, as it does it.

    On a terminal, a rich progress display: one line per step, with a bar and ``done/total``
    for the steps that count their work (the terrain model's carriers, the outputs written).
    Elsewhere (a pipe, a CI log), one plain line per step as it starts and one when a counted
    step completes, each with the seconds since the start and no control character. Quiet,
    nothing. It is a :class:`hatangso.geo.progress.Progress`: the jobs call it.
    """

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        import time

        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._console = console
        self._clock = time.perf_counter
        self._start = self._clock()
        self._mode = "quiet" if quiet else ("live" if console.is_terminal else "plain")
        self._step: str | None = None
        self._counted = False
        self._task: Any = None
        self._bars = (
            Progress(
                SpinnerColumn(finished_text="[green]✓[/green]"),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[count]}"),
                TimeElapsedColumn(),
                console=console,
            )
            if self._mode == "live"
            else None
        )

    def __enter__(self) -> StepDisplay:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __call__(self, step: str, /, *, done: int | None = None, total: int | None = None) -> None:
        """Show `step`, and `done` of `total` when the step counts its work."""
        if self._mode == "quiet":
            return
        if step != self._step:
            self._finish()
            self._step, self._counted = step, False
            if self._bars is not None:
                self._task = self._bars.add_task(step, total=None, count="")
            else:
                self._line(step)
        if done is None or total is None:
            return
        if self._bars is not None:
            self._bars.update(self._task, total=total, completed=done, count=f"{done}/{total}")
        elif done >= total and not self._counted:
            self._line(f"{step}: {done} of {total} done")
        self._counted = self._counted or done >= total

    def close(self) -> None:
        """Mark the last step done and stop the display."""
        self._finish()
        self._step = None
        if self._bars is not None:
            self._bars.stop()

    def _finish(self) -> None:
        if self._bars is not None and self._task is not None:
            task = next(t for t in self._bars.tasks if t.id == self._task)
            total = task.total if task.total is not None else 1
            self._bars.update(self._task, total=total, completed=total)
            self._bars.stop_task(self._task)
            self._task = None

    def _line(self, text: str) -> None:
        elapsed = self._clock() - self._start
        self._console.print(f"[{elapsed:6.1f} s] {text}", markup=False, highlight=False)


QUIET_HELP = "Print nothing but errors (no progress, no tables): the results are in --out."
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help=QUIET_HELP)]


def _steps(quiet: bool) -> StepDisplay:
    """Return the progress display of a command; quiet also silences its tables and warnings."""
    out.quiet = quiet
    if quiet:  # the console's handler, not the loggers: other handlers still get warnings
        for handler in logging.getLogger().handlers:
            if isinstance(handler, ConsoleHandler):
                handler.setLevel(logging.ERROR)
    return StepDisplay(err, quiet=quiet)


def _amount(x: float | int) -> str:
    return f"{x:,.0f}" if float(x).is_integer() or abs(x) >= 100 else f"{x:,.2f}"


_KPI_TEXT: dict[str, dict[str, Any]] = {
    "vi": {
        "columns": ("Chỉ tiêu", "Giá trị", "Đạt được / tổng số", "Mục tiêu", "Đạt"),
        "title": "Chỉ tiêu",
        "met": ("[green]Đạt[/green]", "[red]Chưa đạt[/red]"),
        "inputs": ("Dữ liệu đầu vào", "đã đọc", "sử dụng", "loại bỏ", "đã sửa"),
        "inputs_title": "Dữ liệu đầu vào",
        "outputs": "Kết quả trong",
        "dark": "{dark} trên {total} thôn, tổ dân phố chưa có băng rộng di động",
        "disputes": (
            ("thôn", "nhà mạng", "công bố", "dự báo", "đo được", "số mẫu", "căn cứ"),
            "Thôn có tranh chấp ({n})",
            ("có", "không"),
            "… và {n} thôn khác trong disputes.csv",
        ),
        "basis": {
            "measured": "đo kiểm",
            "predicted": "dự báo",
            "declared": "công bố",
            "challenge": "khiếu nại",
        },
        "registry": "Sổ đăng ký cột ăng-ten: {masts} cột; kiểm tra (registry_checks.csv): {checks}",
        "commitments": (
            ("doanh nghiệp", "cam kết", "hoàn thành", "chưa đến hạn", "quá hạn", "đúng hạn"),
            "Cam kết của doanh nghiệp, tính đến {as_of}",
        ),
    },
    "en": {
        "columns": ("Indicator", "Value", "Covered / of", "Target", "Met"),
        "title": "KPI",
        "met": ("[green]yes[/green]", "[red]no[/red]"),
        "inputs": ("input", "read", "used", "rejected", "repaired"),
        "inputs_title": "inputs",
        "outputs": "outputs in",
        "dark": "{dark} of {total} villages without mobile broadband",
        "disputes": (
            ("village", "operator", "declared", "predicted", "measured", "samples", "basis"),
            "disputes ({n})",
            ("yes", "no"),
            "… and {n} more in disputes.csv",
        ),
        "basis": {},
        "registry": "mast registry: {masts} masts; checks (registry_checks.csv): {checks}",
        "commitments": (
            ("operator", "commitments", "done", "due", "overdue", "on time"),
            "commitments as of {as_of}",
        ),
    },
}

LANG_HELP = "Language of the reports and tables: vi, en or both (Vietnamese, then English)."


UNITS_HELP = (
    "Admin hierarchy of the KPIs by unit: old (provinces, districts, communes before "
    "1 July 2025) or new (provinces and communes after it); default: the villages' own "
    "province, district and commune columns as written."
)


class Units(StrEnum):
    """The values of ``--units``: the admin hierarchy before or after the 2025 reform."""

    old = "old"
    new = "new"


class Lang(StrEnum):
    """The values of ``--lang`` (any other is a usage mistake: the usage, exit 2)."""

    vi = "vi"
    en = "en"
    both = "both"


class PlanTech(StrEnum):
    """The values of ``plan --tech`` and ``calibrate --tech`` (any other is a usage mistake)."""

    four = "4G"
    five = "5G"


class PlanWeight(StrEnum):
    """The values of ``plan --weight``."""

    villages = "villages"
    population = "population"


class TargetOf(StrEnum):
    """The values of ``plan --target-of``."""

    demand = "demand"
    all = "all"


def _langs(lang: str) -> tuple[str, ...]:
    from hatangso.scenarios.report import languages

    return languages(lang)


def print_kpis(console: Console, document: dict[str, Any], *, lang: str = "vi") -> None:
    """Print the KPI table and the input accounting of a ``kpis.json`` document.

    `lang` is ``vi`` (the default), ``en`` or ``both`` (the Vietnamese tables, then English).
    """
    for one in _langs(lang):
        _print_kpis(console, document, one)


def _print_kpis(console: Console, document: dict[str, Any], lang: str) -> None:
    text = _KPI_TEXT[lang]
    yes, no = text["met"]
    table = Table(*text["columns"], title=text["title"], title_justify="left")
    for ind in document["indicators"]:
        value, target, met = ind["value"], ind["target"], ind["met"]
        table.add_row(
            f"{ind['label_vi' if lang == 'vi' else 'label_en']}\n[dim]{ind['code']}[/dim]",
            "—" if value is None else f"{value:.1%}",
            f"{_amount(ind['numerator'])} / {_amount(ind['denominator'])}",
            "" if target is None else f"{target:.0%}",
            "" if met is None else (yes if met else no),
        )
    console.print(table)
    accounting = Table(*text["inputs"], title=text["inputs_title"], title_justify="left")
    for kind, c in document.get("inputs", {}).items():
        accounting.add_row(kind, *(str(c[k]) for k in ("read", "used", "rejected", "repaired")))
    console.print(accounting)


@app.command()
def coverage(
    villages: Annotated[Path, typer.Option(help="Village polygons or points.")],
    sites: Annotated[Path, typer.Option(help="BTS sites.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")],
    access_points: Annotated[Path | None, typer.Option(help="Fiber access points.")] = None,
    fiber: Annotated[Path | None, typer.Option(help="Fiber cables.")] = None,
    roads: Annotated[Path | None, typer.Option(help="Roads: .osm, .pbf or .graphml.")] = None,
    dem: Annotated[
        Path | None,
        typer.Option(
            help="DEM: a GeoTIFF, an SRTM .hgt tile, a .vrt mosaic or a folder of tiles.",
        ),
    ] = None,
    population: Annotated[Path | None, typer.Option(help="Population raster.")] = None,
    poles: Annotated[Path | None, typer.Option(help="Cable poles.")] = None,
    ducts: Annotated[Path | None, typer.Option(help="Ducts.")] = None,
    pois: Annotated[Path | None, typer.Option(help="Key areas and commune offices.")] = None,
    settlements: Annotated[Path | None, typer.Option(help="Residential clusters.")] = None,
    samples: Annotated[Path | None, typer.Option(help="Measurement samples.")] = None,
    declared: Annotated[Path | None, typer.Option(help="Declared coverage.")] = None,
    masts: Annotated[Path | None, typer.Option(help=MASTS_HELP)] = None,
    commitments: Annotated[Path | None, typer.Option(help=COMMITMENTS_HELP)] = None,
    config: Annotated[Path | None, typer.Option(help="Configuration YAML.")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of inputs without one.")] = None,
    columns: Annotated[
        str | None, typer.Option(help="Map columns of the input files: village_id=osm_id,name=ten.")
    ] = None,
    lang: Annotated[Lang, typer.Option(help=LANG_HELP)] = Lang.vi,
    sheet: Annotated[str | None, typer.Option(help=SHEET_HELP)] = None,
    header_row: Annotated[int | None, typer.Option(min=1, help=HEADER_ROW_HELP)] = None,
    boundaries: Annotated[
        Path | None,
        typer.Option(help="Commune or district outlines for the map (default: from villages)."),
    ] = None,
    units: Annotated[Units | None, typer.Option(help=UNITS_HELP)] = None,
    workers: Annotated[int | None, typer.Option(min=1, help=WORKERS_HELP)] = None,
    scheduler: Annotated[str | None, typer.Option(help=SCHEDULER_HELP)] = None,
    quiet: Quiet = False,
) -> None:
    """Compute coverage, fiber reach and sharing; write kpis.json, villages.gpkg, map.html."""
    _ready(
        out_dir,
        sheet=sheet,
        header_row=header_row,
        villages=villages,
        sites=sites,
        access_points=access_points,
        fiber=fiber,
        roads=roads,
        dem=dem,
        population=population,
        poles=poles,
        ducts=ducts,
        pois=pois,
        settlements=settlements,
        samples=samples,
        declared=declared,
        masts=masts,
        commitments=commitments,
        config=config,
        boundaries=boundaries,
    )
    from hatangso.coverage.config import load_config
    from hatangso.geo.validate import parse_column_map
    from hatangso.scenarios.job import InputFiles, run_coverage

    cfg = load_config(config, limits=_limits())
    files = InputFiles(
        villages=villages,
        sites=sites,
        access_points=access_points,
        fiber=fiber,
        poles=poles,
        ducts=ducts,
        pois=pois,
        settlements=settlements,
        roads=roads,
        dem=dem,
        population=population,
        samples=samples,
        declared=declared,
        masts=masts,
        commitments=commitments,
        crs=crs,
        column_map=parse_column_map(columns),
        sheet=sheet,
        header_row=header_row,
        boundaries=boundaries,
    )
    cluster = None
    if workers is not None or scheduler is not None:
        from hatangso.coverage.distributed import ClusterOptions

        cluster = ClusterOptions(workers=workers, scheduler=scheduler)
    with _steps(quiet) as progress:
        result = run_coverage(
            files,
            cfg,
            out_dir,
            progress=progress,
            lang=lang.value,
            units=None if units is None else units.value,
            cluster=cluster,
        )
    print_kpis(out, result.kpis, lang=lang.value)
    one = _text_lang(lang.value)
    if result.disputes is not None:
        print_disputes(out, result.disputes, lang=one)
    print_registry(out, result.kpis, lang=one)
    out.print(
        f"{_KPI_TEXT[one]['outputs']} {out_dir}: "
        + ", ".join(p.name for p in result.files.values())
    )


def _text_lang(lang: str) -> str:
    """Return the language of the lines printed once: Vietnamese for ``both``."""
    return "en" if lang == "en" else "vi"


def print_registry(console: Console, document: dict[str, Any], *, lang: str = "vi") -> None:
    """Print the mast registry's checks and the commitments per operator, when there are any.

    `lang` is ``vi`` (the default) or ``en``.
    """
    text = _KPI_TEXT[lang]
    registry = document.get("registry")
    if registry:
        checks = ", ".join(f"{k} {v}" for k, v in registry["checks"].items())
        console.print(text["registry"].format(masts=registry["masts"], checks=checks))
    commitments = document.get("commitments")
    if commitments:
        columns, title = text["commitments"]
        table = Table(
            *columns,
            title=title.format(as_of=commitments["as_of"]),
            title_justify="left",
        )
        for row in commitments["by_operator"]:
            on_time = row.get("on_time")
            table.add_row(
                str(row["operator"]),
                *(str(row[k]) for k in ("commitments", "done", "due", "overdue")),
                "—" if on_time is None else f"{float(on_time):.0%}",
            )
        console.print(table)


def print_disputes(console: Console, disputes: Any, *, limit: int = 15, lang: str = "vi") -> None:
    """Print the first `limit` disputes (village, operator, declared, predicted, measured).

    `lang` is ``vi`` (the default) or ``en``.
    """
    import math

    import pandas as pd

    text = _KPI_TEXT[lang]
    columns, title, (yes, no), more = text["disputes"]

    def flag(value: Any) -> str:
        return "—" if value is None or value is pd.NA else (yes if value else no)

    def share(value: Any) -> str:
        return "—" if value is None or math.isnan(float(value)) else f"{float(value):.0%}"

    table = Table(*columns, title=title.format(n=len(disputes)), title_justify="left")
    for row in disputes.head(limit).itertuples(index=False):
        table.add_row(
            f"{row.village_id} {row.name}",
            str(row.operator),
            flag(row.declared),
            flag(row.predicted),
            share(row.measured),
            str(row.samples),
            text["basis"].get(str(row.basis), str(row.basis)),
        )
    console.print(table)
    if len(disputes) > limit:
        console.print(more.format(n=len(disputes) - limit))


@app.command()
def plan(
    villages: Annotated[Path, typer.Option(help="Village polygons or points.")],
    sites: Annotated[Path, typer.Option(help="Existing BTS sites of every operator.")],
    operator: Annotated[str, typer.Option(help="The operator planning (e.g. Viettel).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")],
    budget: Annotated[
        float | None, typer.Option(help="Sites to build (or money, with siting.budget_unit).")
    ] = None,
    target: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share to cover, 0 to 1: of the dark villages (4G), of all people or "
            "villages (5G; see --target-of).",
        ),
    ] = None,
    dem: Annotated[
        Path | None,
        typer.Option(
            help="DEM for high-point candidates: a GeoTIFF, .hgt, .vrt or a folder of tiles.",
        ),
    ] = None,
    candidates: Annotated[Path | None, typer.Option(help="Only these candidate sites.")] = None,
    config: Annotated[Path | None, typer.Option(help="Configuration YAML.")] = None,
    scope: Annotated[
        str, typer.Option(help="any: villages no operator covers; own: the operator's gaps.")
    ] = "any",
    settlements: Annotated[Path | None, typer.Option(help="Residential clusters.")] = None,
    method: Annotated[str, typer.Option(help="milp (exact, with gap) or greedy.")] = "milp",
    population: Annotated[Path | None, typer.Option(help="Population raster (GeoTIFF).")] = None,
    tech: Annotated[
        PlanTech,
        typer.Option(
            help="4G: villages without 4G or better; 5G: without 5G (a 3.5 GHz carrier on the "
            "operator's towers first, then other operators', then new sites)."
        ),
    ] = PlanTech.four,
    weight: Annotated[
        PlanWeight | None,
        typer.Option(help="villages (each counts 1) or population (its people)."),
    ] = None,
    target_of: Annotated[
        TargetOf | None,
        typer.Option(
            help="What --target is a share of: demand (the dark villages) or all (every "
            "village or person). Default: all for 5G, demand for 4G (siting.target_of)."
        ),
    ] = None,
    columns: Annotated[
        str | None, typer.Option(help="Map columns of the input files: village_id=osm_id,name=ten.")
    ] = None,
    sheet: Annotated[str | None, typer.Option(help=SHEET_HELP)] = None,
    header_row: Annotated[int | None, typer.Option(min=1, help=HEADER_ROW_HELP)] = None,
    quiet: Quiet = False,
) -> None:
    """Propose new sites that close the coverage gap at least cost, sharing towers first."""
    from hatangso.scenarios.plan_job import run_plan

    if (budget is None) == (target is None):
        raise InputError(
            Problem(
                file="options",
                message="give exactly one of --budget and --target",
                fix="e.g. --target 1.0 to cover every reachable dark village",
            )
        )
    _ready(
        out_dir,
        sheet=sheet,
        header_row=header_row,
        villages=villages,
        sites=sites,
        dem=dem,
        candidates=candidates,
        config=config,
        settlements=settlements,
        population=population,
    )
    with _steps(quiet) as progress:
        result = run_plan(
            villages=villages,
            sites=sites,
            operator=operator,
            budget=budget,
            target=target,
            out_dir=out_dir,
            dem=dem,
            candidates=candidates,
            config=config,
            scope=scope,
            method=method,
            settlements=settlements,
            population=population,
            tech=tech.value,
            weight=None if weight is None else weight.value,
            target_of=None if target_of is None else target_of.value,
            columns=columns,
            progress=progress,
            sheet=sheet,
            header_row=header_row,
            limits=_limits(),
        )
    _print_plan(result.document)
    out.print(f"outputs in {out_dir}: " + ", ".join(p.name for p in result.files.values()))


def _print_plan(document: dict[str, Any]) -> None:
    table = Table(
        "#",
        "site",
        "on",
        "villages",
        "people",
        "cost",
        title="plan",
        title_justify="left",
    )
    for site in document.get("sites", []):
        table.add_row(
            str(site.get("rank")),
            str(site.get("site_id")),
            _placement_text(site),
            str(site.get("villages_newly_covered")),
            _amount(site.get("people_newly_covered") or 0),
            _amount(site.get("cost") or 0),
        )
    out.print(table)
    for line in plan_summary(document):
        out.print(line)


def _placement_text(site: dict[str, Any]) -> str:
    """Say where a planned carrier goes: the own tower, another operator's, or a new site."""
    placement = site.get("placement")
    if placement == "own_tower":
        return f"own tower {site.get('upgrades_site')}"
    partner = site.get("colocated_with")
    if placement == "shared_tower" or partner not in (None, ""):
        return f"shared: {partner} ({site.get('partner_operator')})"
    return "new site"


def plan_summary(document: dict[str, Any]) -> list[str]:
    """Say what the solver found and whether the engine's re-check confirms it, plainly."""
    gap = document.get("gap")
    demand = document.get("demand", {})
    recheck = document.get("recheck", {})
    lines = [
        f"solver ({document.get('method')}, on its coverage model "
        f"{document.get('matrix_model')}): {document.get('status')}, "
        f"gap {'unknown' if gap is None else f'{gap:.2%}'}",
        f"engine re-check ({document.get('recheck_model')}, rule {document.get('rule')}): "
        f"{demand.get('covered_after_recheck', 0)} of {demand.get('villages', 0)} demand "
        f"villages covered ({float(demand.get('covered_share_after_recheck', 1.0)):.1%}), "
        f"{document.get('missed_villages', 0)} left dark",
    ]
    rounds = recheck.get("rounds", [])
    if len(rounds) > 1:
        lines.append(
            f"the engine refuted villages the solver counted: solved {len(rounds)} times, "
            "dropping the refuted claims each time"
        )
    by_placement = document.get("by_placement") or {}
    if any(v.get("sites") for v in by_placement.values()):
        labels = {"own_tower": "own towers", "shared_tower": "shared", "new_site": "new sites"}
        lines.append(
            "carriers by placement (cheapest first): "
            + "; ".join(
                f"{labels.get(k, k)} {v['sites']} (cost {_amount(v['cost'])}, "
                f"{_amount(v['people_newly_covered'])} people)"
                for k, v in by_placement.items()
            )
        )
    overall = document.get("overall") or {}
    if document.get("target_of") == "all" and overall:
        unit = "people" if document.get("weight") == "population" else "villages"
        lines.append(
            f"{document.get('tech')} coverage of all {unit}: "
            f"{float(overall.get('share_before', 0.0)):.1%} today, "
            f"{float(overall.get('share_after_recheck', 0.0)):.1%} after the plan (engine's "
            f"re-check; {_amount(overall.get('covered_after_recheck') or 0)} of "
            f"{_amount(overall.get('weight') or 0)})"
        )
    if document.get("carrier_model"):
        lines.append(f"coverage model: {document['carrier_model']}")
    met = document.get("target_met_after_recheck")
    target = float(document.get("target") or 0.0)
    basis = " of all" if document.get("target_of") == "all" else ""
    if met is True:
        lines.append(f"target {target:.1%}{basis}: met after the engine's re-check")
    elif met is False:
        lines.append(
            f"target {target:.1%}{basis}: NOT met after the engine's re-check, short by "
            f"{float(recheck.get('shortfall') or 0.0) * 100:.1f} points"
        )
        if recheck.get("reason"):
            lines.append(f"why: {recheck['reason']}")
    return lines


@app.command()
def calibrate(
    sites: Annotated[Path, typer.Option(help="BTS sites whose signal was measured.")],
    samples: Annotated[Path, typer.Option(help="Measurement samples (drive tests ...).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")],
    config: Annotated[Path | None, typer.Option(help="Configuration YAML.")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of inputs without one.")] = None,
    tech: Annotated[PlanTech, typer.Option(help="Service to fit: 4G or 5G.")] = PlanTech.four,
    min_samples: Annotated[
        int, typer.Option(min=1, help="Samples a group needs to be fitted.")
    ] = 100,
    quiet: Quiet = False,
) -> None:
    """Fit the hata model to measurements; later runs use it via mobile.calibration."""
    _ready(out_dir, sites=sites, samples=samples, config=config)
    from hatangso.coverage.config import load_config
    from hatangso.scenarios.calibrate_job import run_calibration

    with _steps(quiet) as progress:
        result = run_calibration(
            sites=sites,
            samples=samples,
            out_dir=out_dir,
            config=load_config(config, limits=_limits()),
            crs=crs,
            tech=tech.value,
            min_samples=min_samples,
            progress=progress,
        )
    cal = result.calibration
    table = Table(
        *cal.by,
        "samples",
        "fit",
        "offset dB",
        "slope dB/dec",
        "RMSE before",
        "RMSE after",
        "bias before",
        "bias after",
        title="calibration",
        title_justify="left",
    )
    for g in cal.groups:
        table.add_row(
            *g.key,
            str(g.n_samples),
            g.status,
            f"{g.offset_db:+.1f}",
            f"{g.slope_db_per_decade:+.1f}",
            f"{g.rmse_before_db:.1f}",
            f"{g.rmse_after_db:.1f}",
            f"{g.bias_before_db:+.1f}",
            f"{g.bias_after_db:+.1f}",
        )
    out.print(table)
    out.print(
        f"all samples: RMSE {cal.rmse_before_db:.1f} -> {cal.rmse_after_db:.1f} dB, bias "
        f"{cal.bias_before_db:+.1f} -> {cal.bias_after_db:+.1f} dB. Use it in later runs: put "
        f"{result.files['calibration'].name} beside the configuration file and write "
        f"'mobile: {{model: hata, calibration: {result.files['calibration'].name}}}'"
    )


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML (e.g. scenarios/bac-kan.yaml).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")],
    lang: Annotated[Lang, typer.Option(help=LANG_HELP)] = Lang.vi,
    data_root: Annotated[
        Path | None,
        typer.Option(
            help="Folder the scenario's data paths are relative to (default: the scenario "
            "file's folder). A scenario file cannot set it.",
        ),
    ] = None,
    units: Annotated[Units | None, typer.Option(help=UNITS_HELP)] = None,
    masts: Annotated[Path | None, typer.Option(help=MASTS_HELP)] = None,
    commitments: Annotated[Path | None, typer.Option(help=COMMITMENTS_HELP)] = None,
    record: Annotated[
        str | None,
        typer.Option(
            help="The province's record (record.gpkg, or postgresql://user:pw@host/db): its "
            "layers replace the scenario's data files."
        ),
    ] = None,
    samples: Annotated[
        Path | None,
        typer.Option(
            help="Measurement samples (drive and speed tests) instead of the scenario's: the "
            "baseline takes them all, each year those up to its 31 December.",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="YYYY-MM-DD",
            help="With --record: the record as it stood at the end of that day (a year's "
            "report made again for 31 December).",
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Run a scenario: the baseline and each year with its deployments, against its targets."""
    from hatangso.scenarios.run import run_scenario

    if as_of is not None and record is None:
        raise typer.BadParameter(
            "--as-of needs --record (the record to read)", param_hint="--as-of"
        )
    if as_of is not None and not _is_iso_day(as_of):  # before the scenario's data are made
        raise typer.BadParameter(
            f"'{as_of}' is not a day written YYYY-MM-DD, e.g. 2024-12-31", param_hint="--as-of"
        )
    _ready(
        out_dir,
        SCENARIO=scenario,
        data_root=data_root,
        masts=masts,
        commitments=commitments,
        samples=samples,
    )
    with _steps(quiet) as progress:
        run_scenario(
            scenario,
            out_dir,
            progress=progress,
            console=out,
            lang=lang.value,
            data_dir=data_root,
            limits=_limits(),
            units=None if units is None else units.value,
            masts=masts,
            commitments=commitments,
            record=record,
            as_of=as_of,
            samples=samples,
        )


@app.command()
def compare(
    first: Annotated[Path, typer.Argument(help="First scenario YAML.")],
    second: Annotated[Path, typer.Argument(help="Second scenario YAML.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")],
    lang: Annotated[Lang, typer.Option(help=LANG_HELP)] = Lang.vi,
    quiet: Quiet = False,
) -> None:
    """Run two scenarios and compare their indicators year by year."""
    _ready(out_dir, FIRST=first, SECOND=second)
    from hatangso.scenarios.run import compare_scenarios

    langs = _langs(lang.value)
    with _steps(quiet) as progress:
        result = compare_scenarios(first, second, out_dir, progress=progress, lang=lang.value)
    for one in langs:
        print_comparison(out, result.rows, lang=one)
    out.print(
        f"{_KPI_TEXT[langs[0]]['outputs']} {out_dir}: "
        + ", ".join(Path(p).name for p in result.files.values())
    )


_COMPARISON_TEXT = {
    "vi": ("Năm", "Chỉ tiêu", "A", "B", "B − A", "So sánh", "hiện trạng"),
    "en": ("year", "indicator", "A", "B", "B − A", "comparison", "baseline"),
}


def print_comparison(console: Console, rows: Any, *, lang: str = "vi") -> None:
    """Print the comparison table of two scenarios in `lang` (``vi`` or ``en``)."""
    *columns, title, baseline = _COMPARISON_TEXT[lang]

    def pct(value: Any) -> str:
        return "—" if value is None else f"{value:.1%}"

    table = Table(*columns, title=title, title_justify="left")
    for row in rows:
        year = baseline if row["year"] == "baseline" else str(row["year"])
        table.add_row(
            year,
            f"{row['label_vi' if lang == 'vi' else 'label_en']}\n[dim]{row['code']}[/dim]",
            pct(row["value_a"]),
            pct(row["value_b"]),
            pct(row["difference"]),
        )
    console.print(table)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes answering requests (one per core serves the most readers); they "
            "share the workspace through its file locks.",
        ),
    ] = 1,
) -> None:
    """Serve the maps, KPIs and uploads over HTTP (OpenAPI docs at /docs)."""
    _can_listen(host, port)
    from hatangso.app.main import serve as run_server

    # The service tells the console what it does, the first start's demo build above all.
    logging.getLogger("hatangso").setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, ConsoleHandler):
            handler.once = False
    run_server(host=host, port=port, workers=workers)


def _can_listen(host: str, port: int) -> None:
    """Refuse an address this machine cannot listen on, before the service starts (exit 2).

    A host that is no address of the machine and a port taken or forbidden would otherwise end
    the server at its start with its own exit code and message.
    """
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as exc:
        raise InputError(
            Problem(
                file="command line",
                column="--host",
                message=f"cannot listen on {host!r}: not an address of this machine ({exc})",
                fix="give one such as 127.0.0.1 (this machine only) or 0.0.0.0 (every network)",
            )
        ) from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(address)
        except OSError as exc:
            raise InputError(
                Problem(
                    file="command line",
                    column="--host" if exc.errno == errno.EADDRNOTAVAIL else "--port",
                    message=f"cannot listen on {host}:{port} ({exc.strerror or exc})",
                    fix="choose another --port (or stop what listens there), or give an "
                    "address of this machine as --host",
                )
            ) from exc


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("demo-out"),
    seed: Annotated[int, typer.Option(help="Seed of the generated province.")] = 2023,
    quiet: Quiet = False,
) -> None:
    """Generate the demo province and run the whole job on it."""
    _ready(out_dir)
    from hatangso.scenarios.demo_job import run_demo

    with _steps(quiet) as progress:
        result = run_demo(out_dir, seed=seed, progress=progress)
    print_kpis(out, result.kpis)
    if result.disputes is not None:
        print_disputes(out, result.disputes)
    print_registry(out, result.kpis)
    villages = result.assessment.villages
    dark = int((~villages["covered_mobile"].astype(bool)).sum())
    text = _KPI_TEXT["vi"]
    out.print(
        text["dark"].format(dark=dark, total=len(villages))
        + f"; {text['outputs']} {out_dir}: "
        + ", ".join(p.name for p in result.files.values())
    )


users_app = typer.Typer(
    help="The service's users: add one (its token is printed once), list them, revoke one.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")


class UserRoleOption(StrEnum):
    """The values of ``--role`` (any other is a usage mistake: the usage, exit 2)."""

    official = "official"
    operator = "operator"
    viewer = "viewer"


WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        help="The service's workspace (default HATANGSO_WORKSPACE, as `serve` reads it).",
    ),
]


def _service_workspace(workspace: Path | None) -> Any:
    """Return the workspace `serve` would use (HATANGSO_WORKSPACE, HATANGSO_DATABASE_URL)."""
    from hatangso.app.config import get_settings
    from hatangso.app.workspace import Workspace

    settings = get_settings()
    database = settings.database_url
    return Workspace(
        workspace if workspace is not None else settings.workspace,
        database_url=database.get_secret_value() if database is not None else None,
    )


def _user_store(workspace: Path | None) -> Any:
    """Open the workspace's users where `serve` finds them (HATANGSO_DATABASE_URL too)."""
    return _service_workspace(workspace).users()


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's name (its changes carry it).")],
    role: Annotated[UserRoleOption, typer.Option(help="official, operator or viewer.")],
    operator: Annotated[
        str | None, typer.Option(help="An operator user's operator (its rows only).")
    ] = None,
    province: Annotated[
        str | None, typer.Option(help="An official's province (default: any).")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Add a user and print its token: shown this once, only a salted hash is kept."""
    store = _user_store(workspace)
    try:
        new = store.add_user(name, role=role.value, operator=operator, province=province)
    finally:
        store.close()
    err.print(
        f"user {new.user.name} added ({new.user.role}). Its token, shown this once; send it "
        "as 'Authorization: Bearer <token>':",
        markup=False,
    )
    out.print(new.token, markup=False)


@users_app.command("list")
def users_list(workspace: WorkspaceOption = None) -> None:
    """List the users: name, role, operator, province, when added, last used, revoked."""
    store = _user_store(workspace)
    try:
        users = store.users()
    finally:
        store.close()

    def when(moment: Any) -> str:
        return "—" if moment is None else moment.isoformat(timespec="minutes")

    table = Table("name", "role", "operator", "province", "added", "last used", "revoked")
    for user in users:
        table.add_row(
            user.name,
            user.role,
            user.operator or "—",
            user.province or "—",
            when(user.created),
            when(user.last_used),
            when(user.revoked),
        )
    out.print(table)


@users_app.command("revoke")
def users_revoke(
    name: Annotated[str, typer.Argument(help="The user whose token stops working.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a user's token at once; the user stays listed and its changes keep its name."""
    store = _user_store(workspace)
    try:
        user = store.revoke_user(name)
    finally:
        store.close()
    out.print(f"user {user.name} revoked", markup=False)


def _terminated(signum: int, _frame: object) -> None:
    sys.exit(128 + signum)


# --------------------------------------------------------------------------------------------
# Challenges
# --------------------------------------------------------------------------------------------

challenges_app = typer.Typer(
    help="Challenges to a village's status: list, file, answer, decide (as the service does).",
    no_args_is_help=True,
)
app.add_typer(challenges_app, name="challenges")


class ActingRole(StrEnum):
    """Roles a user of the command line acts in."""

    admin = "admin"
    official = "official"
    operator = "operator"


ScenarioOption = Annotated[str, typer.Option(help="The scenario.")]
UserOption = Annotated[
    str, typer.Option("--user", help="Who acts: the name the record's history keeps.")
]
RoleOption = Annotated[
    ActingRole,
    typer.Option(
        "--role",
        help="The role acted in. The command line has no credentials: whoever may write the "
        "workspace acts in the role named, and the steps' rules hold for that role.",
    ),
]
ActingOperatorOption = Annotated[
    str | None, typer.Option("--user-operator", help="With --role operator: its operator.")
]
SamplesOption = Annotated[
    Path | None,
    typer.Option(
        "--samples",
        exists=True,
        dir_okay=False,
        help="Evidence: a samples CSV (lon, lat, operator, tech, rsrp_dbm, time, outdoor).",
    ),
]
DocumentOption = Annotated[
    str | None, typer.Option("--document", help="Evidence: a document's reference or file name.")
]
NoteOption = Annotated[str | None, typer.Option("--note", help="Free text kept with the step.")]


@dataclass(frozen=True)
class _Acting:
    name: str
    role: str
    operator: str | None = None
    province: str | None = None


def _acting(user: str, role: ActingRole, operator: str | None) -> _Acting:
    if role is ActingRole.operator and not operator:
        raise typer.BadParameter("--role operator needs --user-operator", param_hint="--role")
    return _Acting(user, role.value, operator if role is ActingRole.operator else None)


def _challenge_workspace(workspace: Path | None, scenario: str) -> Any:
    opened = _service_workspace(workspace)
    root = opened.root
    if not opened.ensure(scenario):
        raise InputError(
            Problem(
                file=scenario,
                message=f"scenario '{scenario}' has no results in {root}",
                fix="run it first (the service's POST /api/scenarios/{name}/coverage), or "
                "give --workspace",
            )
        )
    return opened


def _challenge_rules(opened: Any, scenario: str) -> tuple[Any, float]:
    from hatangso.app.runconfig import stored_config
    from hatangso.coverage.config import ChallengesConfig

    document = stored_config(opened, scenario).document
    mobile = document.get("mobile") or {}
    return (
        ChallengesConfig.model_validate(document.get("challenges") or {}),
        float(mobile.get("threshold_dbm", -110.0)),
    )


def _evidence_of(samples: Path | None, document: str | None) -> dict[str, Any] | None:
    evidence: dict[str, Any] = {}
    if samples is not None:
        import pandas as pd

        frame = pd.read_csv(samples, dtype=str, keep_default_na=False)
        evidence["samples"] = frame.to_dict("records")
    if document is not None:
        evidence["document"] = document
    return evidence or None


def _print_challenge(challenge: Mapping[str, Any]) -> None:
    shown = {k: v for k, v in challenge.items() if not str(k).endswith("evidence_samples")}
    out.print_json(data=shown)


@challenges_app.command("list")
def challenges_list(
    workspace: WorkspaceOption = None,
    scenario: ScenarioOption = "demo",
    status: Annotated[
        str | None, typer.Option(help="Only those at this step: open, answered, decided.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the scenario's challenges."""
    from hatangso.scenarios.challenges import STATUSES, list_challenges

    if status is not None and status not in STATUSES:
        raise typer.BadParameter(f"use one of {', '.join(STATUSES)}", param_hint="--status")
    opened = _challenge_workspace(workspace, scenario)
    listed = list_challenges(opened.store(scenario), status=status)
    if as_json:
        out.print_json(data=listed)
        return
    table = Table(
        "id",
        "village",
        "operator",
        "tech",
        "claim",
        "status",
        "due",
        "decision",
        title=f"challenges of {scenario}",
        title_justify="left",
    )
    for c in listed:
        table.add_row(
            *(
                str(c.get(k) or "")
                for k in (
                    "challenge_id",
                    "village_id",
                    "operator",
                    "tech",
                    "claim",
                    "status",
                    "due",
                    "decision",
                )
            )
        )
    out.print(table)


@challenges_app.command("file")
def challenges_file(
    village: Annotated[str, typer.Option(help="The village's id.")],
    operator: Annotated[str, typer.Option(help="The operator whose service is challenged.")],
    claim: Annotated[str, typer.Option(help="covered or not_covered.")],
    tech: Annotated[str, typer.Option(help="4G or 5G.")] = "4G",
    samples: SamplesOption = None,
    document: DocumentOption = None,
    note: NoteOption = None,
    workspace: WorkspaceOption = None,
    scenario: ScenarioOption = "demo",
    user: UserOption = "admin",
    role: RoleOption = ActingRole.admin,
    user_operator: ActingOperatorOption = None,
) -> None:
    """File a challenge to a village's status (POST /api/scenarios/{name}/challenges)."""
    from hatangso.scenarios.challenges import CLAIMS, TECHS, file_challenge

    if claim not in CLAIMS:
        raise typer.BadParameter(f"use one of {', '.join(CLAIMS)}", param_hint="--claim")
    if tech not in TECHS:
        raise typer.BadParameter(f"use one of {', '.join(TECHS)}", param_hint="--tech")
    party = _acting(user, role, user_operator)
    opened = _challenge_workspace(workspace, scenario)
    rules, threshold = _challenge_rules(opened, scenario)
    challenge = file_challenge(
        opened.store(scenario),
        opened.villages(scenario).frame,
        party,
        village_id=village,
        operator=operator,
        tech=tech,
        claim=claim,
        evidence=_evidence_of(samples, document),
        note=note,
        rules=rules,
        threshold_dbm=threshold,
    )
    _print_challenge(challenge)


@challenges_app.command("answer")
def challenges_answer(
    challenge_id: Annotated[str, typer.Argument(help="The challenge (CH-0001).")],
    position: Annotated[str, typer.Option(help="concede or dispute.")] = "dispute",
    samples: SamplesOption = None,
    document: DocumentOption = None,
    note: NoteOption = None,
    workspace: WorkspaceOption = None,
    scenario: ScenarioOption = "demo",
    user: UserOption = "admin",
    role: RoleOption = ActingRole.admin,
    user_operator: ActingOperatorOption = None,
) -> None:
    """Answer a challenge as the operator it concerns (POST .../challenges/{id}/answer)."""
    from hatangso.scenarios.challenges import POSITIONS, answer_challenge

    if position not in POSITIONS:
        raise typer.BadParameter(f"use one of {', '.join(POSITIONS)}", param_hint="--position")
    party = _acting(user, role, user_operator)
    opened = _challenge_workspace(workspace, scenario)
    rules, threshold = _challenge_rules(opened, scenario)
    challenge = answer_challenge(
        opened.store(scenario),
        opened.villages(scenario).frame,
        party,
        challenge_id,
        position=position,
        evidence=_evidence_of(samples, document),
        note=note,
        rules=rules,
        threshold_dbm=threshold,
    )
    _print_challenge(challenge)


@challenges_app.command("decide")
def challenges_decide(
    challenge_id: Annotated[str, typer.Argument(help="The challenge (CH-0001).")],
    decision: Annotated[str, typer.Option(help="upheld or rejected.")],
    note: NoteOption = None,
    workspace: WorkspaceOption = None,
    scenario: ScenarioOption = "demo",
    user: UserOption = "admin",
    role: RoleOption = ActingRole.admin,
    user_operator: ActingOperatorOption = None,
) -> None:
    """Decide a challenge as an official (POST .../challenges/{id}/decision)."""
    from hatangso.scenarios.challenges import DECISIONS, decide_challenge

    if decision not in DECISIONS:
        raise typer.BadParameter(f"use one of {', '.join(DECISIONS)}", param_hint="--decision")
    party = _acting(user, role, user_operator)
    opened = _challenge_workspace(workspace, scenario)
    challenge = decide_challenge(
        opened.store(scenario), party, challenge_id, decision=decision, note=note
    )
    _print_challenge(challenge)


def main() -> None:
    """Run the command line; map user errors to exit 2 and bugs to exit 1."""
    args = sys.argv[1:] or ["--help"]  # `hatangso` alone: the help, and exit 0
    # A terminated run unwinds like an interrupted one, so that its scratch files are removed.
    signal.signal(signal.SIGTERM, _terminated)
    on_null = _on_null_device(sys.stdout)
    # The interpreter's last act is a full garbage collection over every object its imports
    # made (pandas, scipy, GDAL's bindings, folium): 0.3 s. Frozen at exit, they are skipped
    # and their memory goes back with the process; the other exit handlers (logging's flush)
    # still run, and a command's files are closed by then.
    atexit.unregister(gc.freeze)  # once, however often main() runs in one process
    atexit.register(gc.freeze)
    try:
        app(args=args, prog_name="hatangso", standalone_mode=False)
    except _ReaderGone:
        sys.exit(READER_GONE)
    except SystemExit as exc:
        # typer's help is drawn by a plain rich console, which exits 1 on a closed pipe after
        # pointing stdout at the null device: that is the reader gone, not a failure.
        if exc.code == 1 and not on_null and _on_null_device(sys.stdout):
            sys.exit(READER_GONE)
        raise
    except BrokenPipeError:  # a write outside the consoles (click's help and usage)
        _silence(sys.stdout)
        sys.exit(READER_GONE)
    except HatangsoError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except typer.TyperException as exc:
        # A usage mistake (unknown command or option, missing or mistyped value): click's
        # exception, which typer vendors, prints the usage and the problem, and exits 2.
        show = getattr(exc, "show", None)
        if callable(show):
            show(file=sys.stderr)
            sys.exit(int(getattr(exc, "exit_code", 2)))
        err.print_exception()
        err.print("error: an internal error occurred (a bug in hatangso); please report it")
        sys.exit(1)
    except Exception:
        err.print_exception()
        err.print("error: an internal error occurred (a bug in hatangso); please report it")
        sys.exit(1)


if __name__ == "__main__":
    main()
