"""``hub intake FILE…``: load documents from JSON files through the same intake as the API.

A file holds one document or a list, shaped like the API's ``DocumentIn``. Each file is checked
whole before anything is written: a file with an invalid document is refused (with the field
path, never the value, which may be personal data) and the other files still go in. Documents
already in the ledger (same source and external id) are reported as duplicates, so running the
same import twice is safe.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli._common import actor, cli_errors, console
from hub.db.ledger import PreparedDocument
from hub.errors import InputError
from hub.models import DocumentIn
from hub.runtime import Hub

__all__ = ["intake_command"]

#: Documents written per transaction.
BATCH = 200


@dataclass
class FileResult:
    path: Path
    documents: list[PreparedDocument] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    created: int = 0
    duplicate: int = 0


def _loc(prefix: str, loc: tuple[object, ...] | list[object]) -> str:
    parts = [prefix] if prefix else []
    for p in loc:
        parts.append(f"[{p}]" if isinstance(p, int) else f".{p}" if parts else str(p))
    return "".join(parts) or "(document)"


def _read(path: Path, hub: Hub, who: str) -> FileResult:
    res = FileResult(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        res.problems.append(f"cannot read the file ({exc.strerror or type(exc).__name__})")
        return res
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        res.problems.append(f"not valid UTF-8 JSON{where}")
        return res
    many = isinstance(data, list)
    items = data if many else [data]
    if not items:
        res.problems.append("the list is empty")
    for i, item in enumerate(items):
        prefix = f"[{i}]" if many else ""
        try:
            doc = DocumentIn.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors(include_input=False, include_url=False):
                res.problems.append(f"{_loc(prefix, err['loc'])}: {err['msg']}")
            continue
        try:
            res.documents.append(hub.intake.prepare(doc, actor=who))
        except InputError as exc:
            if exc.errors:
                for detail in exc.errors:
                    loc = detail.get("loc", [])
                    res.problems.append(f"{_loc(prefix, loc)}: {detail.get('msg')}")
            else:
                res.problems.append(f"{prefix or '(document)'}: {exc.message}")
    if res.problems:
        res.documents.clear()
    return res


async def _write(hub: Hub, files: list[FileResult], show_progress: bool) -> None:
    todo = [(f, d) for f in files for d in f.documents]
    out = console()
    with Progress(
        TextColumn("Writing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
        disable=not (show_progress and out.is_terminal),
    ) as progress:
        task = progress.add_task("write", total=len(todo))
        for i in range(0, len(todo), BATCH):
            chunk = todo[i : i + BATCH]
            results = await hub.intake.submit_many([d for _, d in chunk])
            for (f, _), r in zip(chunk, results, strict=True):
                if r.created:
                    f.created += 1
                else:
                    f.duplicate += 1
            progress.advance(task, len(chunk))


async def _run(paths: list[Path]) -> list[FileResult]:
    hub = Hub.create()
    try:
        who = actor()
        out = console()
        many = len(paths) > 1
        with Progress(
            TextColumn("Checking"),
            BarColumn(),
            MofNCompleteColumn(),
            console=out,
            transient=True,
            disable=not (many and out.is_terminal),
        ) as progress:
            task = progress.add_task("check", total=len(paths))
            results = []
            for p in paths:
                results.append(_read(p, hub, who))
                progress.advance(task)
        await _write(hub, results, many)
        return results
    finally:
        await hub.aclose()


@cli_errors
def intake_command(
    files: list[Path] = typer.Argument(
        ..., help="JSON files, each one document or a list of documents", show_default=False
    ),
) -> None:
    """Take documents in from JSON files (validated, classified and routed like the API's)."""
    results = asyncio.run(_run(files))
    out = console()
    table = Table(title="Intake")
    for col in ("file", "result", "created", "duplicate"):
        table.add_column(col, justify="right" if col in ("created", "duplicate") else "left")
    for r in results:
        if r.problems:
            table.add_row(str(r.path), "[red]refused[/]", "0", "0")
        else:
            table.add_row(str(r.path), "[green]ok[/]", str(r.created), str(r.duplicate))
    out.print(table)
    refused = [r for r in results if r.problems]
    err = console(stderr=True)
    for r in refused:
        for problem in r.problems:
            err.print(f"[red]invalid[/] {r.path}: {problem}", soft_wrap=True, markup=True)
    created = sum(r.created for r in results)
    duplicate = sum(r.duplicate for r in results)
    out.print(f"{created} created, {duplicate} duplicate, {len(refused)} file(s) refused")
    if refused:
        raise typer.Exit(1)
