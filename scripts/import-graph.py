#!/usr/bin/env python3
"""Berth's module graph: import circles, upward imports and code shape.

Reads src/**/*.rs (not tests/: they import the crate from outside), follows `use crate::…`,
inline `crate::a::b` paths and `super::` paths, and builds a graph of modules. A module is a
file or a folder module, cut at depth 2 (`http/admin`, `registry/cache`); `--top` collapses to
top-level modules (`http`, `registry`).

  scripts/import-graph.py            circles + upward imports; exit 1 if there is either
                                     (circles in KNOWN_CIRCLES are reported, not failed)
  scripts/import-graph.py --top      the same over top-level modules
  scripts/import-graph.py --edges    also print every edge with the lines that make it
  scripts/import-graph.py --shape    largest files and fn length p50/p90/max (exit 0)

A parent module declaring its children (`mod x;`) is no import; a parent that uses its own
child, or a child that uses its parent, is. `#[cfg(test)]` code counts like any other code:
a test module that reaches upward is still an upward import. The layer order below is the
one `src/lib.rs` ("Layout") and README ("Architecture") describe; keep the three in step.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

# Lowest layer first. A module may import from its own layer and any layer listed before it;
# an import of a later layer is an upward import. Every top-level module must appear once.
LAYERS: list[list[str]] = [
    ["oci", "clock", "datadir", "process", "redact"],  # vocabulary and plumbing, no state
    ["model", "metrics", "config_env"],  # plain shared data; metric names
    ["config", "telemetry", "tls"],  # the settings tree and what reads it first
    ["storage", "meta", "auth", "sealed"],  # blob stores, metadata, security
    ["proxy", "usage", "cleanup"],  # upstream client, usage limits, cleanup evaluation
    ["registry"],  # repositories, their actors, stores and caches
    ["tasks"],  # the scheduler that drives the registry
    ["http", "ui", "import", "admin_client", "preflight"],  # the ways in
    ["app", "connectors", "coherence", "startup", "lib"],  # composition: builds and wires the rest
]

# Circles tolerated for now, each with the reason; reported, not failed. An entry that no
# longer matches a circle fails the check: delete it.
KNOWN_CIRCLES: dict[frozenset[str], str] = {}

SRC = Path(__file__).resolve().parent.parent / "src"
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(text: str) -> str:
    """Drops comments, string and char literals, so paths in prose do not count."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r'r(#*)"(?:.|\n)*?"\1', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\])'", "' '", text)
    return re.sub(r"//[^\n]*", "", text)


def module_of(path: Path) -> list[str]:
    """src/http/admin/mod.rs → [http, admin]; src/http/gate.rs → [http, gate]."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "mod" or parts == ["lib"]:
        parts = parts[:-1] if parts != ["lib"] else ["lib"]
    return parts


def expand_use(tree: str) -> list[str]:
    """`a::{b, c::{d, e}}` → [a::b, a::c::d, a::c::e] (aliases and globs dropped)."""
    tree = re.sub(r"\s+as\s+" + IDENT, "", tree)
    tree = re.sub(r"\s+", "", tree)
    out: list[str] = []

    def walk(prefix: str, s: str) -> None:
        depth, start, items = 0, 0, []
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(s[start:i])
                start = i + 1
        items.append(s[start:])
        for item in filter(None, items):
            brace = item.find("{")
            if brace >= 0:
                walk(prefix + item[:brace], item[brace + 1 : item.rindex("}")])
            else:
                out.append(prefix + item)

    walk("", tree)
    return [p.rstrip(":").removesuffix("::*") for p in out]


class Graph:
    def __init__(self, depth: int | None) -> None:
        self.depth = depth
        self.files = library_files()
        self.modules = {tuple(module_of(f)) for f in self.files}
        self.edges: dict[tuple[str, str], list[str]] = defaultdict(list)
        for f in self.files:
            self.scan(f)

    def node(self, parts: list[str]) -> str:
        """Longest prefix of `parts` that is a module, cut to the graph's depth."""
        best: list[str] = parts[:1]
        for n in range(1, len(parts) + 1):
            if tuple(parts[:n]) in self.modules:
                best = parts[:n]
        return "/".join(best[: self.depth] if self.depth else best)

    def resolve(self, here: list[str], path: list[str]) -> list[str] | None:
        if not path:
            return None
        if path[0] == "crate":
            return path[1:]
        if path[0] in ("super", "self"):
            base = list(here)
            while path and path[0] in ("super", "self"):
                if path[0] == "super":
                    base = base[:-1]
                path = path[1:]
            return base + path
        return None

    def scan(self, file: Path) -> None:
        here = module_of(file)
        src = self.node(here)
        text = strip(file.read_text())
        lines = text.splitlines()
        found: list[tuple[int, list[str]]] = []
        # Berth's only inline modules are `mod tests { … }` at the end of a file: from there on,
        # `super` is the file itself.
        inline = re.search(r"^\s*mod\s+(" + IDENT + r")\s*\{", text, flags=re.M)

        def base(pos: int) -> list[str]:
            return here + [inline.group(1)] if inline and pos > inline.start() else here

        for m in re.finditer(r"\buse\s+([^;]+);", text):
            line = text.count("\n", 0, m.start()) + 1
            for p in expand_use(m.group(1)):
                r = self.resolve(base(m.start()), p.split("::"))
                if r is not None:
                    found.append((line, r))
        no_use = re.sub(r"\buse\s+[^;]+;", lambda m: "\n" * m.group(0).count("\n"), text)
        for m in re.finditer(r"(?<![A-Za-z0-9_:])((?:crate|super)(?:::" + IDENT + r")+)", no_use):
            line = no_use.count("\n", 0, m.start()) + 1
            r = self.resolve(base(m.start()), m.group(1).split("::"))
            if r is not None:
                found.append((line, r))
        for line, target in sorted({(n, tuple(t)) for n, t in found}):
            dst = self.node(list(target))
            if dst and dst != src:
                where = f"{file.relative_to(SRC.parent)}:{line}: {lines[line - 1].strip()[:90]}"
                self.edges[(src, dst)].append(where)

    def sccs(self) -> list[list[str]]:
        """Tarjan's strongly connected components of size > 1."""
        adj: dict[str, set[str]] = defaultdict(set)
        for a, b in self.edges:
            adj[a].add(b)
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on: set[str] = set()
        out: list[list[str]] = []
        sys.setrecursionlimit(10000)

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on.add(v)
            for w in sorted(adj[v]):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

        for v in sorted({a for a, _ in self.edges} | {b for _, b in self.edges}):
            if v not in index:
                visit(v)
        return sorted(out)

    def upward(self) -> tuple[list[tuple[str, str]], set[str]]:
        level = {m: i for i, layer in enumerate(LAYERS) for m in layer}
        unknown = {n.split("/")[0] for e in self.edges for n in e} - set(level)
        up = [
            (a, b)
            for (a, b) in sorted(self.edges)
            if a.split("/")[0] in level
            and b.split("/")[0] in level
            and level[b.split("/")[0]] > level[a.split("/")[0]]
        ]
        return up, unknown


def library_files() -> list[Path]:
    """The library crate: every file but the binary's main.rs and the modules it declares."""
    main = SRC / "main.rs"
    bin_mods = re.findall(r"^\s*mod\s+(" + IDENT + r")\s*;", main.read_text(), flags=re.M)
    skip = {main} | {SRC / f"{m}.rs" for m in bin_mods}
    return [f for f in sorted(SRC.rglob("*.rs")) if f not in skip]


def percentile(xs: list[int], p: float) -> int:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] if xs else 0


def shape() -> None:
    """Largest files and fn lengths (signature line to its closing brace, tests included)."""
    sizes = []
    fns: list[int] = []
    for f in sorted(SRC.rglob("*.rs")):
        raw = f.read_text().splitlines()
        sizes.append((len(raw), str(f.relative_to(SRC.parent))))
        text = strip(f.read_text()).splitlines()
        i = 0
        while i < len(text):
            if re.match(r"\s*(pub(\([a-z]+\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s", text[i]):
                depth, j, opened = 0, i, False
                while j < len(text):
                    depth += text[j].count("{") - text[j].count("}")
                    opened = opened or "{" in text[j]
                    if (opened and depth <= 0) or (not opened and text[j].rstrip().endswith(";")):
                        break
                    j += 1
                if opened:
                    fns.append(j - i + 1)
            i += 1
    sizes.sort(reverse=True)
    lines = [n for n, _ in sizes]
    print(f"files: {len(sizes)}, lines per file median {percentile(lines, 0.5)}")
    for n, name in sizes[:5]:
        print(f"  {n:5} {name}")
    print(
        f"fns: {len(fns)}, length p50 {percentile(fns, 0.5)}, p90 {percentile(fns, 0.9)}, "
        f"max {max(fns)}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--top", action="store_true", help="collapse to top-level modules")
    ap.add_argument("--edges", action="store_true", help="print every edge and its lines")
    ap.add_argument("--shape", action="store_true", help="file and fn sizes instead")
    args = ap.parse_args()
    if args.shape:
        shape()
        return 0
    g = Graph(1 if args.top else 2)
    if args.edges:
        for (a, b), where in sorted(g.edges.items()):
            print(f"{a} -> {b}")
            for w in where:
                print(f"    {w}")
    all_circles = g.sccs()
    circles = [c for c in all_circles if frozenset(c) not in KNOWN_CIRCLES]
    known = [c for c in all_circles if frozenset(c) in KNOWN_CIRCLES]
    stale = [k for k in KNOWN_CIRCLES if sorted(k) not in all_circles] if not args.top else []
    up, unknown = g.upward()
    print(f"modules: {len({n for e in g.edges for n in e})}, edges: {len(g.edges)}")
    print(f"circles: {len(circles)}" + (f" (+{len(known)} known)" if known else ""))
    for c in circles:
        print("  {" + ", ".join(c) + "}")
    for c in known:
        print("  known: {" + ", ".join(c) + "}: " + KNOWN_CIRCLES[frozenset(c)])
    for k in stale:
        print("  known circle {" + ", ".join(sorted(k)) + "} is gone: delete it from KNOWN_CIRCLES")
    print(f"upward imports: {len(up)}")
    for a, b in up:
        print(f"  {a} -> {b}    ({g.edges[(a, b)][0]})")
    for m in sorted(unknown):
        print(f"  module {m} is in no layer: add it to LAYERS in {Path(__file__).name}")
    return 1 if circles or up or unknown or stale else 0


if __name__ == "__main__":
    sys.exit(main())
