"""``ondc-adapter serve``: run the seller node with uvicorn, configured by ``ONDC_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ondc_adapter import keys
from ondc_adapter.settings import Settings


def ensure_keys(settings: Settings) -> str | None:
    """Make sure ``settings.keys_dir`` holds keys. With ``registry_env == "local"`` missing keys
    are generated (test-only) and a notice is returned; elsewhere missing keys are an error."""
    directory = Path(settings.keys_dir)
    if (directory / keys.PUBLIC_FILE).exists():
        return None
    if settings.registry_env != "local":
        raise FileNotFoundError(
            f"no keys in {directory} (registry env {settings.registry_env!r}); create them with "
            f"`ondc-adapter keys generate --subscriber-id {settings.subscriber_id} "
            f"--unique-key-id {settings.unique_key_id} --out {directory}` and register the "
            "public keys with the registry"
        )
    keys.write_keys(keys.new_keys(settings.subscriber_id, settings.unique_key_id), directory)
    return (
        f"generated TEST-ONLY development keys in {directory} for {settings.subscriber_id} "
        "(ONDC_REGISTRY_ENV=local); never use them on an ONDC network"
    )


def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the seller node (BPP): protocol endpoints, callbacks, admin API."""
    import uvicorn

    from ondc_adapter.api.app import seller_extras  # the FastAPI app: only when serving

    settings = Settings()
    try:
        notice = ensure_keys(settings)
        seller_extras(settings)  # refuse to start on missing or bad seller terms, before binding
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if notice:
        typer.echo(notice, err=True)
    uvicorn.run(
        "ondc_adapter.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,  # costs ~10% of the ACK path; NACKs and callbacks are logged by the app
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
