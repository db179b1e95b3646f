#!/usr/bin/env python3
"""ctest design/layers: every `#include "ncp/..."` of the library goes to its own layer or one above it, in the
order of docs/design.md's layer table, and the README's layer list names the same layers in the same order.

usage: /usr/bin/python3 tests/design/layers.py SOURCE_DIR
"""

import pathlib
import re
import sys


def table_layers(design):
    """(layer name, [folders or files]) in table order, from the table after the `<!-- layers` marker."""
    text = design.read_text()
    start = text.index("<!-- layers")
    layers = []
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if layers:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in ("layer", "") or set(cells[0]) <= set("-"):
            continue
        layers.append((cells[0], re.findall(r"`([^`]+)`", cells[1])))
    return layers


def layer_of(path, layers):
    """Index of the layer holding `path` (relative to include/ncp/), or None."""
    for i, (_, places) in enumerate(layers):
        for place in places:
            if place.endswith("/") and path.startswith(place) or path == place:
                return i
    return None


def main():
    root = pathlib.Path(sys.argv[1])
    layers = table_layers(root / "docs" / "design.md")
    names = [name for name, _ in layers]
    problems = []
    include = root / "include" / "ncp"
    for header in sorted(include.rglob("*.hpp")):
        rel = header.relative_to(include).as_posix()
        own = layer_of(rel, layers)
        if own is None:
            problems.append(f"include/ncp/{rel}: in no layer of docs/design.md")
            continue
        if rel == "ncp.hpp":  # the umbrella header includes everything by design
            continue
        for number, line in enumerate(header.read_text().splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"ncp/([^"]+)"', line)
            if not m:
                continue
            target = layer_of(m.group(1), layers)
            if target is None:
                problems.append(f"include/ncp/{rel}:{number}: includes ncp/{m.group(1)}, which is in no layer")
            elif target > own:
                problems.append(f"include/ncp/{rel}:{number}: layer {names[own]} includes ncp/{m.group(1)} of "
                                f"layer {names[target]}, which lies below it")
    readme = (root / "README.md").read_text()
    m = re.search(r"each layer includes only the layers before it:\n(.*?)\n\n", readme, re.S)
    if not m:
        problems.append("README.md: no layer list ('each layer includes only the layers before it:')")
    else:
        listed = [re.match(r"\s*`?([a-z]+)", part).group(1) for part in m.group(1).split("→")]
        if listed != names:
            problems.append(f"README.md's layer list {listed} differs from docs/design.md's {names}")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{len(names)} layers; every include goes upward; README agrees")
    return 0


if __name__ == "__main__":
    sys.exit(main())
