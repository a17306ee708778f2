"""The click face of the command line, built from cli/spec.py.

It serves ``--help``, usage errors (exit code 2) and anything the fast parser
declines; every command then runs through the same ``run`` as the fast path.
"""

import click

from .._version import __version__
from .spec import COMMANDS, COMMON, GROUPS, options_of

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _param(opt):
    if opt.kind in ("flag", "off"):
        return click.Option([opt.name, *opt.flags], is_flag=True, flag_value=opt.kind == "flag",
                            default=None, help=opt.help, hidden=opt.hidden)
    if opt.kind == "list":  # repeatable; not given is None, as in the fast parser
        return click.Option([opt.name, *opt.flags], type=str, multiple=True, help=opt.help,
                            metavar=opt.metavar, hidden=opt.hidden,
                            callback=lambda _ctx, _param, values: list(values) or None)
    kind = {"int": int}.get(opt.kind, str)
    if isinstance(opt.kind, tuple):
        kind = click.Choice(opt.kind)
    return click.Option([opt.name, *opt.flags], type=kind, default=None, help=opt.help,
                        metavar=opt.metavar, hidden=opt.hidden)


def merge(contexts):
    """The parameters of a command line, from the outermost group to the command: a
    value given nearer the command wins."""
    merged = {}
    for ctx in contexts:
        merged.update({k: v for k, v in ctx.params.items() if v is not None or k not in merged})
    return merged


def _command(spec):
    def callback(**_params):
        from . import run

        ctx = click.get_current_context()
        chain = []
        while ctx is not None:
            chain.insert(0, ctx)
            ctx = ctx.parent
        ctx = chain[-1]
        ctx.exit(run(spec.name, merge(chain)))

    arguments = [click.Argument([a.name], type=int if a.kind == "int" else str,
                                required=a.required) for a in spec.args]
    # \b keeps click from re-wrapping the example line.
    return click.Command(
        spec.name.split()[-1], callback=callback,
        params=arguments + [_param(o) for o in options_of(spec)],
        help=f"{spec.summary}\n\nExample:\n\n\b\n    {spec.example}", short_help=spec.summary,
        context_settings=CONTEXT)


def build():
    commands = [_command(s) for s in COMMANDS.values() if " " not in s.name]
    for group, summary in GROUPS.items():
        members = [_command(s) for s in COMMANDS.values() if s.name.startswith(group + " ")]
        first = next(s for s in COMMANDS.values() if s.name.startswith(group + " "))
        commands.append(click.Group(group, commands=members, context_settings=CONTEXT,
                                    help=f"{summary}\n\nExample:\n\n\b\n    {first.example}",
                                    short_help=summary))
    group = click.Group(
        "ferryman", commands=commands, params=[_param(o) for o in COMMON],
        context_settings=CONTEXT,
        help="Versioned database migrations with backups, automatic rollback, and a status "
             "every host agrees on.\n\nExample:\n\n\b\n    FERRYMAN_DATABASE_URL=sqlite:///app.db "
             "ferryman up")
    click.version_option(__version__, "--version", prog_name="ferryman")(group)
    return group


def parse(argv):
    """(command name, params) as click parses ``argv``; for tests and tools."""
    group = build()
    chain = [group.make_context("ferryman", list(argv))]
    names = []
    while isinstance(chain[-1].command, click.Group):
        ctx = chain[-1]
        rest = [*ctx._protected_args, *ctx.args]
        command = ctx.command.get_command(ctx, rest[0])
        names.append(rest[0])
        chain.append(command.make_context(rest[0], rest[1:], parent=ctx))
    return " ".join(names), merge(chain)


def run_click(argv):
    try:
        build().main(args=list(argv), prog_name="ferryman", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
