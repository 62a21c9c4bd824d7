"""`secondme doctor`: is everything this app needs in working order? Each line says how to fix it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass

import typer

from assistant.cli.base import app, print_json
from assistant.cli.gui import has_display


@dataclass
class Check:
    name: str
    status: str  # OK | WARN | FAIL
    detail: str
    fix: str = ""


def _data_dir(settings) -> Check:
    from assistant.app import check_writable

    check_writable(settings)
    return Check("data dir", "OK", str(settings.home))


def _database(settings) -> Check:
    from assistant.cli.base import get_app

    db = get_app().db
    current, head = db.schema_revision(), db.head_revision()
    integrity = db.quick_check()
    if integrity != "ok":
        return Check("database", "FAIL", f"integrity check: {integrity}",
                     "restore a backup with `secondme restore PATH`")
    if current != head:
        return Check("database", "FAIL", f"schema {current}, expected {head}", "restart secondme to migrate")
    return Check("database", "OK", f"schema {current}, {get_app().memory.count()} memories")


def _indexes(settings) -> Check:
    from assistant.cli.base import get_app
    from storage.keyword_index import KeywordIndex

    with get_app().db.session() as s:
        fts_problem = KeywordIndex.integrity_problem(s)
    if fts_problem:
        return Check("indexes", "WARN", f"keyword index damaged ({fts_problem})", "run `secondme reindex`")
    report = get_app().memory.index_report()
    problems = {k: len(v) for k, v in report.items() if isinstance(v, list) and v}
    if report["pending_vector_writes"] or problems:
        detail = ", ".join(f"{k}={v}" for k, v in problems.items()) or f"{report['pending_vector_writes']} pending"
        return Check("indexes", "WARN", detail, "run `secondme reindex --check`")
    stale = get_app().memory.stale_embedding_count()
    if stale:
        return Check("indexes", "WARN", f"{stale} memories embedded with another model", "run `secondme reindex`")
    return Check("indexes", "OK", f"FTS5 and Chroma hold all {report['memories']} memories")


def _embedder(settings) -> Check:
    from assistant.cli.base import get_app

    emb = get_app().embedder
    vec = emb.embed(["doctor check"])
    return Check("embedder", "OK", f"{emb.name}, {vec.shape[1]} dimensions")


def _chat_model(settings) -> Check:
    from assistant.llm.catalog import active_model_path, inspect_model, ram_warning

    info = inspect_model(active_model_path(settings), settings.context_size)  # metadata only, no weights
    detail = (f"{info.path.name}: {info.parameters_label} {info.quantization}, {info.size_bytes / 1e6:.0f} MB, "
              f"context {info.context_length}, ~{info.ram_estimate_bytes / 1e6:.0f} MB RAM")
    if not info.has_chat_template:
        return Check("chat model", "WARN", detail + ", no chat template",
                     f"answers use the '{settings.chat_template_fallback}' fallback template; pick an instruct model")
    warning = ram_warning(info)
    if warning:
        return Check("chat model", "WARN", detail, warning)
    return Check("chat model", "OK", detail)


def _keyring(settings) -> Check:
    from assistant.cli.base import get_app

    store = get_app().secrets
    if store.warning:
        mode = store.file_mode()
        if mode is not None and mode != 0o600:
            return Check("keyring", "FAIL", f"{store.file} has mode {mode:o}: other users may read your keys",
                         f"run: chmod 600 {store.file}")
        return Check("keyring", "WARN", store.warning,
                     "install and unlock a Secret Service (e.g. gnome-keyring), or accept the 0600 file")
    return Check("keyring", "OK", store.backend_name)


def _encryption(settings) -> Check:
    from assistant.cli.base import get_app

    if not get_app().db.encrypted:
        return Check("encryption", "WARN", "the database is NOT encrypted at rest (encrypt_database = false)",
                     "set encrypt_database = true; the next start encrypts it in place")
    return Check("encryption", "OK",
                 "database encrypted with SQLCipher (AES-256), key in " + get_app().secrets.backend_name)


def _plugins(settings) -> Check:
    from assistant.cli.base import get_app

    infos = get_app().plugins.list()
    failed = [i for i in infos if i.status == "failed"]
    if failed:
        return Check("plugins", "WARN", "; ".join(f"{i.name} turned off: {i.error}" for i in failed),
                     "fix or remove the plugin, or add it to disabled_plugins; `secondme plugins` lists them")
    return Check("plugins", "OK", f"{len(infos)} loaded: " + ", ".join(i.name for i in infos))


def _display(settings) -> Check:
    if has_display() or os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        return Check("display", "OK", os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY") or "native")
    return Check("display", "WARN", "no display: the desktop window cannot open", "use `secondme chat` in a terminal")


CHECKS: list[Callable] = [_data_dir, _database, _indexes, _embedder, _chat_model, _keyring, _encryption, _plugins,
                          _display]


def run_checks() -> list[Check]:
    from assistant.config import load_settings
    from storage.errors import UserError

    settings = load_settings()
    results = []
    for check in CHECKS:
        name = check.__name__.strip("_").replace("_", " ")
        try:
            results.append(check(settings))
        except UserError as exc:
            results.append(Check(name, "FAIL", str(exc)))
        except Exception as exc:  # a doctor reports, it does not crash
            results.append(Check(name, "FAIL", f"{type(exc).__name__}: {exc}", "run with --verbose and report it"))
    return results


@app.command()
def doctor(as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON.")) -> None:
    """Check the data folder, database, indexes, models, keyring and display."""
    results = run_checks()
    if as_json:
        print_json([asdict(r) for r in results])
    else:
        for r in results:
            line = f"{r.status:<4}  {r.name:<11} {r.detail}"
            typer.echo(line + (f"  -> {r.fix}" if r.fix and r.status != "OK" else ""))
    if any(r.status == "FAIL" for r in results):
        raise typer.Exit(1)
