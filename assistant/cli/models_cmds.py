"""models …: the chat-model catalogue (list, add, use, info, download, recommend)."""

from __future__ import annotations

from pathlib import Path

import typer

from assistant.cli.base import app, print_json

models = typer.Typer(help="Choose the chat model: list, add, use, info, download, recommend.", no_args_is_help=True)
app.add_typer(models, name="models")


def _settings():
    from assistant.config import load_settings

    return load_settings()


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n < 1e9 else f"{n / 1e9:.2f} GB"


@models.command("list")
def list_models(as_json: bool = typer.Option(False, "--json")) -> None:
    """GGUF models found: the packaged default, the data folder's models/ and paths you added."""
    from assistant.llm.catalog import list_models as catalog
    from assistant.llm.catalog import ram_warning

    entries = catalog(_settings())
    if as_json:
        print_json([e.to_json() for e in entries])
        return
    for e in entries:
        mark = "*" if e.active else " "
        if e.info is None:
            typer.echo(f"{mark} {e.path}  [{e.origin}]  UNUSABLE: {e.error}")
            continue
        i = e.info
        typer.echo(f"{mark} {i.name}  {i.parameters_label} {i.quantization}  {_mb(i.size_bytes)}  "
                   f"ctx {i.context_length}  ~{_mb(i.ram_estimate_bytes)} RAM  [{e.origin}]  {e.path}")
        warning = ram_warning(i)
        if warning:
            typer.echo(f"    warning: {warning}")


@models.command("info")
def model_info(path: Path = typer.Argument(None, help="A GGUF file; the active model when left out."),
               as_json: bool = typer.Option(False, "--json"),
               metadata: bool = typer.Option(False, "--metadata", help="Also print every GGUF metadata key.")) -> None:
    """Validate a GGUF file and describe it (without loading its weights)."""
    from assistant.llm.catalog import active_model_path, inspect_model, ram_warning

    settings = _settings()
    info = inspect_model(path or active_model_path(settings), settings.context_size)
    if as_json:
        data = info.to_json(with_metadata=metadata)
        data["ram_warning"] = ram_warning(info)
        print_json(data)
        return
    typer.echo(f"{info.name}\n  file          {info.path}\n  architecture  {info.architecture}\n"
               f"  parameters    {info.parameters:,} ({info.parameters_label})\n  quantisation  {info.quantization}\n"
               f"  size          {_mb(info.size_bytes)}\n  context       {info.context_length} tokens (trained)\n"
               f"  chat template {'from the file' if info.has_chat_template else 'none: the fallback is used'}\n"
               f"  RAM estimate  {_mb(info.ram_estimate_bytes)} at {settings.context_size} tokens")
    warning = ram_warning(info)
    if warning:
        typer.echo(f"warning: {warning}")
    if metadata:
        for key, value in sorted(info.metadata.items()):
            typer.echo(f"  {key} = {value[:200]}")


@models.command("add")
def add_model(path: Path = typer.Argument(..., help="A GGUF file to add to the catalogue.")) -> None:
    """Add a GGUF file kept anywhere on disk to the catalogue (it is validated first)."""
    from assistant.config import save_settings
    from assistant.llm.catalog import inspect_model

    settings = _settings()
    info = inspect_model(path, settings.context_size)
    known = [Path(p).expanduser().resolve() for p in settings.chat_models]
    if info.path not in known:
        save_settings(chat_models=[*settings.chat_models, info.path])
    typer.echo(f"Added {info.name} ({info.parameters_label} {info.quantization}); use it with: "
               f"secondme models use {info.path}")


@models.command("use")
def use_model(path: Path = typer.Argument(..., help="A GGUF file, or 'default' for the packaged model.")) -> None:
    """Make a GGUF file the chat model (validated first; takes effect at the next start)."""
    from assistant.config import save_settings
    from assistant.llm.catalog import inspect_model, ram_warning

    if str(path) == "default":
        written = save_settings(chat_model_path=None)
        typer.echo(f"Using the packaged default model (saved in {written}).")
        return
    settings = _settings()
    info = inspect_model(path, settings.context_size)
    written = save_settings(chat_model_path=info.path)
    typer.echo(f"Now using {info.name} ({info.parameters_label} {info.quantization}); saved in {written}.")
    warning = ram_warning(info)
    if warning:
        typer.echo(f"warning: {warning}")


@models.command("recommend")
def recommend_models(as_json: bool = typer.Option(False, "--json")) -> None:
    """Instruction-tuned GGUFs worth downloading, by this machine's free RAM."""
    from assistant.llm.catalog import available_ram_bytes
    from assistant.llm.recommend import recommend

    free = available_ram_bytes()
    free_mb = free // 2**20 if free is not None else None
    rows = recommend(free_mb)
    if as_json:
        print_json({"free_ram_mb": free_mb, "models": [{**s.to_json(), "fits": fits} for s, fits in rows]})
        return
    typer.echo(f"Free RAM: {'unknown' if free_mb is None else f'{free_mb:,} MB'}")
    for s, fits in rows:
        typer.echo(f"{'ok ' if fits else 'big'}  {s.name}  {s.size_mb:,} MB file, ~{s.ram_mb:,} MB RAM  ({s.why})")
        typer.echo(f"     secondme models download {s.repo} {s.file}")


@models.command("download")
def download_model(repo: str = typer.Argument(...,
                                              help="Hugging Face repository, e.g. Qwen/Qwen2.5-1.5B-Instruct-GGUF"),
                   file: str = typer.Argument(..., help="The .gguf file in it."),
                   use: bool = typer.Option(False, "--use", help="Make it the chat model once downloaded.")) -> None:
    """Download a GGUF into the data folder's models/ (needs internet and the huggingface_hub package)."""
    from assistant.config import save_settings
    from assistant.llm.catalog import inspect_model
    from assistant.llm.recommend import download

    settings = _settings()
    path = download(repo, file, settings.models_dir)
    info = inspect_model(path, settings.context_size)
    typer.echo(f"Downloaded {info.name} to {path}.")
    if use:
        save_settings(chat_model_path=info.path)
        typer.echo("It is now the chat model.")
