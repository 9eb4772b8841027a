"""The `prodops` command line."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

from prodops.platform.config import get_settings
from prodops.platform.registry import load_domains

console = Console()
app = typer.Typer(
    help="ProdOps: self-hosted product operations.", no_args_is_help=True, pretty_exceptions_show_locals=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply database migrations (creates the database on first run)."""
    from prodops.migrate import upgrade

    upgrade(revision)
    console.print(f"Database is at revision [bold]{revision}[/bold] ({get_settings().sqlalchemy_url.split('@')[-1]}).")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Uvicorn worker processes (use a separate `prodops worker` when > 1).")
    ] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
) -> None:
    """Serve the web UI and API (with an embedded job consumer unless PRODOPS_EMBEDDED_WORKER=false)."""
    import uvicorn

    logging.basicConfig(level=get_settings().log_level)
    console.print(f"ProdOps is serving on [bold]http://{host}:{port}[/bold]  (Ctrl+C to stop)")
    uvicorn.run(
        "prodops.web:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level=get_settings().log_level.lower(),
    )


@app.command()
def worker(
    threads: Annotated[int | None, typer.Option(help="Worker threads (default PRODOPS_WORKER_THREADS).")] = None,
) -> None:
    """Run background jobs and periodic schedules in this process."""
    from huey.consumer import Consumer

    import prodops.worker as schedules
    from prodops.platform.jobs import huey

    logging.basicConfig(level=get_settings().log_level)
    load_domains()
    console.print(
        f"Worker consuming {type(huey.storage).__name__} with {threads or get_settings().worker_threads} threads; schedules: {', '.join(schedules.SCHEDULES)}"
    )
    Consumer(huey, workers=threads or get_settings().worker_threads, worker_type="thread").run()


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server after seeding.")] = True,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Migrate, seed the demo organisation (idempotent) and serve it."""
    from prodops.migrate import upgrade
    from prodops.platform.demo import run_demo

    settings = get_settings()
    upgrade("head")
    run_demo(console)
    console.print(
        f"\nSign in at [bold]http://{host}:{port}[/bold] as [bold]{settings.demo_admin_email}[/bold] with password [bold]{settings.demo_admin_password}[/bold]"
    )
    if serve_after:
        serve(host=host, port=port, workers=1, reload=False)


def main() -> None:
    reg = load_domains()
    for name, sub in reg.cli_apps.items():
        app.add_typer(sub, name=name)
    app()


if __name__ == "__main__":
    main()
