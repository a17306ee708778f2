"""The dependency graph of services: checked, ordered in layers, and drawn. Pure.

    graph = Graph({"users": [], "letters": ["users"], "museum": ["letters", "users"]})
    graph.layers()      # [["users"], ["letters"], ["museum"]]
    graph.svg({"users": "ok", "letters": "failed", "museum": "skipped"})
"""

from html import escape

from ..errors import InputError

STATUS_COLOURS = {"ok": "#2e7d32", "failed": "#c62828", "rolled_back": "#ef6c00",
                  "skipped": "#9e9e9e", "running": "#1565c0", "pending": "#607d8b"}


class Graph:
    """Services and the services each depends on."""

    def __init__(self, depends_on):
        self.depends_on = {name: list(deps) for name, deps in depends_on.items()}
        self._check()

    def _check(self):
        unknown = sorted({f"{name} -> {dep}" for name, deps in self.depends_on.items()
                          for dep in deps if dep not in self.depends_on})
        if unknown:
            raise InputError("unknown service in depends_on: " + ", ".join(unknown),
                             hint="every name in depends_on must be a [services.NAME] table")
        cycle = self.cycle()
        if cycle:
            raise InputError("the services depend on each other in a cycle: "
                             + " -> ".join(cycle + [cycle[0]]))

    def cycle(self):
        """One cycle as a list of names, or None."""
        state, stack = {}, []

        def visit(name):
            state[name] = "open"
            stack.append(name)
            for dep in self.depends_on[name]:
                if state.get(dep) == "open":
                    return stack[stack.index(dep):]
                if dep not in state:
                    found = visit(dep)
                    if found:
                        return found
            state[name] = "done"
            stack.pop()
            return None

        for name in sorted(self.depends_on):
            if name not in state:
                found = visit(name)
                if found:
                    return found
        return None

    def dependents(self, name):
        """Every service that depends on ``name``, directly or not."""
        found, todo = set(), [name]
        while todo:
            current = todo.pop()
            for other, deps in self.depends_on.items():
                if current in deps and other not in found:
                    found.add(other)
                    todo.append(other)
        return found

    def layers(self):
        """Services by depth: each layer depends only on the layers before it."""
        depth = {}

        def level(name):
            if name not in depth:
                deps = self.depends_on[name]
                depth[name] = 1 + max((level(d) for d in deps), default=-1)
            return depth[name]

        for name in self.depends_on:
            level(name)
        layers = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for name in sorted(depth):
            layers[depth[name]].append(name)
        return layers

    def longest_chain(self):
        """The longest path of dependencies, first service first."""
        best = {}

        def chain(name):
            if name not in best:
                longest = max((chain(d) for d in self.depends_on[name]), key=len, default=[])
                best[name] = longest + [name]
            return best[name]

        return max((chain(n) for n in sorted(self.depends_on)), key=len, default=[])

    def select(self, names):
        """The graph restricted to ``names``; a dependency outside it counts as done."""
        missing = [n for n in names if n not in self.depends_on]
        if missing:
            raise InputError(f"no service {', '.join(map(repr, missing))}; the services are "
                             + ", ".join(sorted(self.depends_on)))
        return Graph({n: [d for d in self.depends_on[n] if d in names] for n in names})

    def svg(self, statuses=None, width=None):
        """The graph as a self-contained SVG: a column per layer, an arrow from each
        service to what it depends on, a box coloured by each service's status."""
        statuses = statuses or {}
        layers = self.layers()
        box_w, box_h, gap_x, gap_y = 150, 36, 70, 18
        tallest = max((len(layer) for layer in layers), default=1)
        total_w = width or max(1, len(layers)) * (box_w + gap_x) + 20
        total_h = tallest * (box_h + gap_y) + 20
        where = {}
        for x, layer in enumerate(layers):
            offset = (tallest - len(layer)) * (box_h + gap_y) / 2
            for y, name in enumerate(layer):
                where[name] = (10 + x * (box_w + gap_x), 10 + offset + y * (box_h + gap_y))
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="dependency-graph" '
                 f'width="{total_w}" height="{total_h}" viewBox="0 0 {total_w} {total_h}" '
                 'font-family="sans-serif" font-size="13">',
                 '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
                 'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                 '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
        for name, deps in sorted(self.depends_on.items()):
            x1, y1 = where[name]
            for dep in deps:
                x2, y2 = where[dep]
                parts.append(f'<line class="edge" data-from="{escape(name)}" '
                             f'data-to="{escape(dep)}" x1="{x1}" y1="{y1 + box_h / 2}" '
                             f'x2="{x2 + box_w}" y2="{y2 + box_h / 2}" stroke="#555" '
                             'marker-end="url(#arrow)"/>')
        for name, (x, y) in sorted(where.items()):
            status = statuses.get(name, "pending")
            colour = STATUS_COLOURS.get(status, "#607d8b")
            parts.append(f'<g class="service" data-service="{escape(name)}" '
                         f'data-status="{escape(status)}"><title>{escape(name)}: '
                         f'{escape(status)}</title><rect x="{x}" y="{y}" width="{box_w}" '
                         f'height="{box_h}" rx="6" fill="{colour}"/><text x="{x + 8}" '
                         f'y="{y + 23}" fill="#fff">{escape(_clip(name))}</text></g>')
        parts.append("</svg>")
        return "\n".join(parts)


def _clip(name, limit=18):
    return name if len(name) <= limit else name[: limit - 1] + "…"
