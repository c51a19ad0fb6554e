"""``ondc-adapter sandbox``: a local ONDC network (``up``), certification flows (``run``), and
the list of flows (``flows``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

# Only the folder path at import time: the network, FastAPI, the adapter and rich are imported
# inside the commands that use them (``ondc-adapter --help`` stays fast).
from ondc_adapter.sandbox import SCENARIO_DIR

sandbox_app = typer.Typer(help="Local ONDC network for testing the adapter.", no_args_is_help=True)


CoreVersion = Annotated[
    str, typer.Option(help="retail version the flow speaks: 1.2.0 or 1.2.5")
]


@sandbox_app.command("flows")
def flows(
    scenarios: Annotated[Path, typer.Option(help="folder of scenario files")] = SCENARIO_DIR,
    core_version: CoreVersion = "1.2.0",
) -> None:
    """List the scenario files (flows) that `sandbox run` knows, and the certification flows
    that have none (and why)."""
    from rich.console import Console

    from ondc_adapter.sandbox.scenario import (
        DEFAULT_VERSION,
        NOT_SHIPPED,
        VALIDATOR_FLOWS,
        load_scenario,
        scenario_files,
        version_dir,
    )
    from ondc_adapter.settings import SUPPORTED_DOMAINS

    console = Console()
    folder = version_dir(scenarios, core_version)
    files = scenario_files(scenarios, core_version) if folder.is_dir() else {}
    for flow, path in files.items():
        sc = load_scenario(path)
        needs = f"  (needs {', '.join(sc.requires)})" if sc.requires else ""
        limited = sc.domains and not set(SUPPORTED_DOMAINS) <= set(sc.domains)
        only = f"  (only {', '.join(sc.domains)})" if limited else ""
        console.print(f"[bold]{flow:>4}[/bold]  {sc.name}  [dim]{path.name}{needs}{only}[/dim]")
    if core_version == DEFAULT_VERSION:
        missing = {flow: why for flow, why in NOT_SHIPPED.items() if flow not in files}
    else:  # every flow ONDC's validator defines for the version that has no file yet
        missing = {
            flow: f"no scenario file for retail {core_version} yet"
            for flow in sorted(VALIDATOR_FLOWS.get(core_version, ()), key=lambda f: (int(f), f))
            if flow not in files
        }
    if missing:
        console.print("\n[bold]not yet[/bold] (no scenario file; `sandbox run` exits 2):")
        for flow, why in missing.items():
            console.print(f"[bold]{flow:>4}[/bold]  [dim]{why}[/dim]")


@sandbox_app.command("run")
def run(
    flow: Annotated[str, typer.Argument(help="flow id (1-9, igm-1..., see `sandbox flows`) "
                                             "or a file")],
    domain: Annotated[str, typer.Option(help="ONDC domain, e.g. ONDC:RET16")] = "ONDC:RET16",
    url: Annotated[
        str | None, typer.Option(help="registry URL of a running `sandbox up` (else in-process)")
    ] = None,
    export: Annotated[
        Path | None, typer.Option(help="write the log-validation-utility request JSON here")
    ] = None,
    transcript: Annotated[
        Path | None,
        typer.Option(
            help="write every HTTP exchange here as JSON lines; with --url the running "
            "sandbox's own exchanges for this run (gateway, adapter, registry) are fetched "
            "from it and merged in"
        ),
    ] = None,
    scenarios: Annotated[Path, typer.Option(help="folder of scenario files")] = SCENARIO_DIR,
    quiet: Annotated[bool, typer.Option(help="only the summary")] = False,
    core_version: CoreVersion = "1.2.0",
) -> None:
    """Run one certification flow as the buyer app; exit 1 on any protocol failure."""
    from rich.console import Console

    from ondc_adapter.cli.lazy import elapsed_since_start
    from ondc_adapter.logging import configure_logging
    from ondc_adapter.sandbox.report import exportable, print_result, step_line, write_export
    from ondc_adapter.sandbox.scenario import find_scenario
    from ondc_adapter.sandbox.session import run_flow

    console = Console()
    started = time.perf_counter()
    # The adapter's own log lines would drown the transcript; warnings and errors still show.
    configure_logging("WARNING", json=False)

    def progress(outcome) -> None:  # type: ignore[no-untyped-def]
        if not quiet:
            console.print(step_line(outcome))

    try:
        scenario = find_scenario(flow, scenarios, core_version)
        if scenario.domains and domain not in scenario.domains:
            console.print(f"[yellow]flow {scenario.flow} is written for "
                          f"{', '.join(scenario.domains)}; running it on {domain} anyway[/yellow]")
        with console.status(f"flow {flow} on {domain}...", spinner="dots"):
            output = asyncio.run(
                run_flow(flow, domain=domain, url=url, on_step=progress, scenario_dir=scenarios,
                         remote_transcript=transcript is not None, core_version=core_version)
            )
    except KeyError as exc:
        console.print(f"[red]error: {exc.args[0]}[/red]")
        raise typer.Exit(2) from None
    except (RuntimeError, OSError) as exc:
        console.print(f"[red]error: {exc}[/red]")
        raise typer.Exit(2) from None
    result = output.result
    print_result(console, result)
    if not result.unsupported and exportable(result.export):
        from ondc_adapter.lvu import kind_of, validate_bundle

        findings = validate_bundle(result.export)
        colour = "yellow" if findings else "green"
        kind = kind_of(str(result.export.get("version")))
        console.print(f"[{colour}]ONDC log-validator rules (ported, {kind} "
                      f"{result.export.get('flow')}): {len(findings)} finding(s)[/{colour}]")
        for finding in findings:
            console.print(f"  {finding}", markup=False)
    if export and not exportable(result.export):
        from ondc_adapter.lvu import kind_of

        console.print(
            f"[yellow]no bundle written: ONDC's validator defines no flow "
            f"{result.export.get('flow')!r} for {kind_of(str(result.export.get('version')))} (a "
            f"bundle naming it would pass unchecked)[/yellow]"
        )
    elif export:
        write_export(export, result.export, result.wire)
        console.print(f"[dim]log-validation payload: {export}[/dim]")
    if transcript:
        output.transcript.write_jsonl(transcript)
        console.print(f"[dim]transcript: {transcript} ({len(output.transcript)} exchanges)[/dim]")
        if output.remote_transcript_note:
            console.print(f"[yellow]transcript: {output.remote_transcript_note}[/yellow]")
    elapsed, measured = elapsed_since_start(started)
    console.print(f"[dim]wall time {elapsed:.2f}s ({measured}; the flow itself "
                  f"{result.elapsed_s:.2f}s)[/dim]")
    if not result.ok:
        raise typer.Exit(1)


@sandbox_app.command("up")
def up(
    domain: Annotated[
        list[str] | None, typer.Option(help="domains to register (repeatable)")
    ] = None,
    port: Annotated[
        int, typer.Option(help="registry port; gateway, buyer, adapter use the next three (0: any)")
    ] = 0,
    work_dir: Annotated[
        Path | None, typer.Option(help="keep keys and SQLite here (default: a temp dir)")
    ] = None,
    seed: Annotated[
        Path | None, typer.Option(help="JSON array of extra registry records to load")
    ] = None,
    core_version: Annotated[
        list[str] | None,
        typer.Option(help="retail version the adapter serves besides its settings' "
                          "(repeatable: --core-version 1.2.5 serves 1.2.0 and 1.2.5 buyers)"),
    ] = None,
) -> None:
    """Start registry, gateway, buyer app and adapter on loopback until Ctrl-C."""
    from rich.console import Console

    from ondc_adapter.logging import configure_logging
    from ondc_adapter.sandbox.network import NetworkOptions, start_network
    from ondc_adapter.settings import SUPPORTED_DOMAINS, Settings

    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    console = Console()
    ports = {}
    if port:
        ports = {n: port + i for i, n in enumerate(("registry", "gateway", "buyer", "adapter"))}
    opts = NetworkOptions(
        domains=list(domain or SUPPORTED_DOMAINS), work_dir=work_dir, ports=ports, seed_file=seed,
        console_accounts=True, core_versions=list(core_version or ()),
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        async with start_network(opts, settings=settings) as network:
            info = network.describe()
            console.print("[bold green]ONDC sandbox is up[/bold green] (test-only keys)")
            for name in ("registry", "gateway", "buyer_app", "adapter"):
                console.print(f"  {name:<10} {info[name]}")
            console.print(f"  retail versions    {', '.join(info['core_versions'])}")
            console.print(f"  adapter admin key  {info['admin_api_key']}")
            if info.get("console"):
                console.print(f"  seller console     {info['console']}")
                for account in info.get("console_accounts", []):
                    console.print(f"    {account['role']:<22} username {account['username']}  "
                                  f"password {account['password']}")
            console.print(f"  keys and data      {info['work_dir']}")
            console.print(
                f"\nrun a flow against it:  ondc-adapter sandbox run 2 --domain ONDC:RET16 "
                f"--url {info['registry']}\nstop: Ctrl-C"
            )
            console.print(f"  registry records   {len(network.registry_store.records)} "
                          f"(GET {info['registry']}/participants)")
            await stop.wait()
            console.print("stopping...")
        console.print("stopped")

    asyncio.run(main())


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
