"""Prints every command, argument and option of the Meltano CLI it runs under, one per line.

Run with Meltano's own Python (scripts/regen-goldens.sh does) so the list is read from the
installed Meltano's click tree, not from its documentation. Lines are
`<command path> | <option or <argument>>`, with ` | hidden` for options Meltano hides from
--help; a command without arguments or options gets a line of its own (`| -`).
"""

import click
from meltano.cli import cli


def walk(command: click.Command, path: list[str]) -> None:
    """Prints the parameters of `command`, then walks its subcommands in name order."""
    words = " ".join(path)
    params = [p for p in command.params if p.name != "help"]
    for param in params:
        if isinstance(param, click.Option):
            name = "/".join(param.opts + param.secondary_opts)
            print(f"{words} | {name}{' | hidden' if param.hidden else ''}")
        else:
            print(f"{words} | <{param.name}>")
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(click.Context(command))):
            sub = command.get_command(click.Context(command), name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            walk(sub, [*path, name])
    elif not params:
        print(f"{words} | -")


walk(cli, ["meltano"])
