"""Parse a well-formed command line without click.

Returns None whenever anything is unusual (``--help``, an unknown option, a value
that does not convert, combined short flags): the caller then hands the whole
command line to click, which explains the problem properly. So this parser never
has to produce an error message, only to agree with click when all is well.
"""

from .spec import COMMANDS, COMMON, GROUPS, options_of


def parse(argv):
    """(command name, params) for ``argv`` (without the program name), or None."""
    lookup = {flag: opt for opt in COMMON for flag in opt.flags}
    params, index = {}, 0
    while index < len(argv) and argv[index].startswith("-"):
        index = _option(argv, index, lookup, params)
        if index is None:
            return None
    if index >= len(argv):
        return None
    name = argv[index]
    if name in GROUPS and index + 1 < len(argv):
        index += 1
        name = f"{name} {argv[index]}"
    if name not in COMMANDS:
        return None
    command = COMMANDS[name]
    options = options_of(command)
    lookup = {flag: opt for opt in options for flag in opt.flags}
    positionals, index = [], index + 1
    while index < len(argv):
        token = argv[index]
        if token == "--":
            positionals.extend(argv[index + 1:])
            break
        if token.startswith("-") and len(token) > 1:  # click reads -1 as an option too
            index = _option(argv, index, lookup, params)
            if index is None:
                return None
        else:
            positionals.append(token)
            index += 1
    if len(positionals) != len(command.args):
        return None
    for arg, text in zip(command.args, positionals):
        value = _convert(arg.kind, text)
        if value is _BAD:
            return None
        params[arg.name] = value
    for opt in options + COMMON:  # click's group always has the common options
        params.setdefault(opt.name, None)
    return command.name, params


def _option(argv, index, lookup, params):
    # Only long options take --name=value; click reads -m=x as -m with the value "=x".
    if argv[index].startswith("--"):
        name, eq, value = argv[index].partition("=")
    else:
        name, eq, value = argv[index], "", ""
    opt = lookup.get(name)
    if opt is None:
        return None
    if opt.kind in ("flag", "off"):
        if eq:
            return None
        params[opt.name] = opt.kind == "flag"
        return index + 1
    if not eq:
        index += 1
        if index >= len(argv):
            return None
        value = argv[index]
    converted = _convert(opt.kind, value)
    if converted is _BAD:
        return None
    if opt.kind == "list":  # repeatable: every value, in order
        converted = (params.get(opt.name) or []) + [converted]
    params[opt.name] = converted
    return index + 1


_BAD = object()


def _convert(kind, text):
    if isinstance(kind, tuple):
        return text if text in kind else _BAD
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            return _BAD
    return text
