"""The README documents every setting and every CLI command (Datasette's test_docs idea)."""

from __future__ import annotations

from pathlib import Path

import typer.main

from prodops.platform.config import Settings

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    head = README.split("\n## ")[0]
    assert "make demo" in head and "make test" in head


def test_every_setting_is_documented() -> None:
    missing = [f"PRODOPS_{name.upper()}" for name in Settings.model_fields if f"`PRODOPS_{name.upper()}`" not in README]
    assert not missing, f"settings missing from README.md: {missing}"
    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]
    assert not undocumented, f"settings without a docstring: {undocumented}"


def _commands(group: typer.Typer, prefix: str) -> list[str]:
    found = []
    for command in group.registered_commands:
        name = command.name or (command.callback.__name__.replace("_", "-") if command.callback else "")
        found.append(f"{prefix} {name}")
    for sub in group.registered_groups:
        found.extend(_commands(sub.typer_instance, f"{prefix} {sub.name}"))  # type: ignore[arg-type]
    return found


def test_every_cli_command_is_documented() -> None:
    from prodops import cli
    from prodops.platform.registry import load_domains

    app = typer.Typer()
    app.registered_commands = list(cli.app.registered_commands)
    app.registered_groups = list(cli.app.registered_groups)
    for name, sub in load_domains().cli_apps.items():
        app.add_typer(sub, name=name)
    commands = _commands(app, "prodops")
    assert len(commands) >= 8
    missing = [c for c in commands if f"`{c}" not in README]
    assert not missing, f"CLI commands missing from README.md: {missing}"
    _ = typer.main  # the commands are Typer's; keep the import explicit
