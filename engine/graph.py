"""DAG helpers over step indices (`deps[i]` = indices step i depends on). All iterative."""

from __future__ import annotations


def topological_order(deps: list[list[int]]) -> list[int] | None:
    """Kahn's algorithm, stable by index; None if there is a cycle."""
    n = len(deps)
    dependents: list[list[int]] = [[] for _ in range(n)]
    remaining = [0] * n
    for i, ds in enumerate(deps):
        uniq = set(ds)
        remaining[i] = len(uniq)
        for d in uniq:
            dependents[d].append(i)
    ready = [i for i in range(n) if remaining[i] == 0]
    order: list[int] = []
    while ready:
        i = ready.pop()
        order.append(i)
        for j in dependents[i]:
            remaining[j] -= 1
            if remaining[j] == 0:
                ready.append(j)
    return order if len(order) == n else None


def ancestor_sets(deps: list[list[int]], n: int) -> list[int] | None:
    """Bitset (Python int) of transitive dependencies per step; linear-ish even for 10k steps."""
    order = topological_order(deps)
    if order is None:
        return None
    anc = [0] * n
    for i in order:
        bits = 0
        for d in deps[i]:
            bits |= anc[d] | (1 << d)
        anc[i] = bits
    return anc


def find_cycles(deps: list[list[int]]) -> list[list[int]]:
    """One representative cycle per strongly connected component (Tarjan, iterative)."""
    n = len(deps)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    counter = 0
    cycles: list[list[int]] = []
    for root in range(n):
        if index[root] != -1:
            continue
        work: list[tuple[int, int]] = [(root, 0)]
        while work:
            v, pos = work.pop()
            if pos == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            if pos < len(deps[v]):
                work.append((v, pos + 1))
                w = deps[v][pos]
                if index[w] == -1:
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                component: list[int] = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    cycles.append(_cycle_in(sorted(component), deps))
    return sorted(cycles)


def _cycle_in(component: list[int], deps: list[list[int]]) -> list[int]:
    """A simple cycle through the smallest member, following edges inside the component."""
    members = set(component)
    start = component[0]
    # BFS from start back to start gives a shortest cycle.
    prev: dict[int, int] = {}
    frontier = [start]
    seen = {start}
    while frontier:
        nxt: list[int] = []
        for v in frontier:
            for w in deps[v]:
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return list(reversed(path))
                if w not in seen:
                    seen.add(w)
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return component
