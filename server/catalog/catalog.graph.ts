/**
 * The dependsOn graph: deterministic topological order (dependencies first, ties broken
 * by name so the same catalog always gives the same order), transitive closure and cycles.
 */

export type DependencyGraph = ReadonlyMap<string, readonly string[]>;

/** Every component of `graph` in dependency order; components caught in a cycle are left out. */
export function topologicalSort(graph: DependencyGraph): string[] {
  const remaining = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const [name, deps] of graph) {
    const known = deps.filter((dep) => graph.has(dep));
    remaining.set(name, new Set(known).size);
    for (const dep of new Set(known)) dependents.set(dep, [...(dependents.get(dep) ?? []), name]);
  }
  const ready = [...remaining].filter(([, count]) => count === 0).map(([name]) => name).sort();
  const order: string[] = [];
  while (ready.length) {
    const next = ready.shift()!;
    order.push(next);
    for (const dependent of dependents.get(next) ?? []) {
      const count = remaining.get(dependent)! - 1;
      remaining.set(dependent, count);
      if (count === 0) {
        ready.push(dependent);
        ready.sort();
      }
    }
  }
  return order;
}

/** `names` and everything they depend on, transitively. Unknown names are returned separately. */
export function closure(graph: DependencyGraph, names: Iterable<string>): { names: Set<string>; unknown: string[] } {
  const seen = new Set<string>();
  const unknown: string[] = [];
  const stack = [...names];
  while (stack.length) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    const deps = graph.get(name);
    if (!deps) {
      if (!unknown.includes(name)) unknown.push(name);
      continue;
    }
    seen.add(name);
    stack.push(...deps);
  }
  return { names: seen, unknown: unknown.sort() };
}

/**
 * Each elementary cycle reachable by depth-first search, once, as the list of its members
 * in dependency direction starting from its alphabetically first member (`a → b → a` is
 * returned as ["a", "b"]).
 */
export function findCycles(graph: DependencyGraph): string[][] {
  const cycles = new Map<string, string[]>();
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (name: string) => {
    state.set(name, "visiting");
    path.push(name);
    for (const dep of [...(graph.get(name) ?? [])].sort()) {
      if (!graph.has(dep)) continue;
      if (state.get(dep) === "visiting") {
        const members = path.slice(path.indexOf(dep));
        const first = members.indexOf([...members].sort()[0]!);
        const rotated = [...members.slice(first), ...members.slice(0, first)];
        cycles.set(rotated.join(">"), rotated);
      } else if (!state.has(dep)) {
        visit(dep);
      }
    }
    path.pop();
    state.set(name, "done");
  };
  for (const name of [...graph.keys()].sort()) if (!state.has(name)) visit(name);
  return [...cycles.values()];
}
