// The worker's folders form layers: imports between the top-level folders of src/ run one way only, so a
// folder can be read (and tested) without the ones above it. This reads every import of src/ (tests left out)
// and fails on any cycle between folders, naming the files that close it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|mjs|js)$/.test(name) && !/\.test\.ts$/.test(name) ? [path] : [];
  });
}

/** Top-level folder of a file under src/; a file directly in src/ (app.ts, model-card.ts...) is its own node. */
const folderOf = (file: string): string => relative(SRC, file).split('/')[0];

/** folder -> folder -> one file that makes the edge (for the message). */
export function folderGraph(files: string[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    // `import type` is left out: it is erased at build time, and env.ts (the bindings type every layer
    // receives, as Workers projects do) names the Durable Object class it binds.
    for (const m of text.matchAll(/^\s*(?:import|export)(?!\s+type\b)\b[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)) {
      const target = resolve(dirname(file), m[1]);
      if (!target.startsWith(SRC)) continue;
      const from = folderOf(file);
      const to = folderOf(target);
      if (from === to) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      if (!graph.get(from)!.has(to)) graph.get(from)!.set(to, relative(SRC, file));
    }
  }
  return graph;
}

/** One cycle as a list of folders (first = last), or null. */
export function findCycle(graph: Map<string, Map<string, string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const c = visit(next);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of [...graph.keys()].sort()) {
    if (!state.has(node)) {
      const c = visit(node);
      if (c) return c;
    }
  }
  return null;
}

describe('src/ layering', () => {
  it('finds a cycle when there is one (the checker itself)', () => {
    const g = new Map([
      ['a', new Map([['b', 'a/x.ts']])],
      ['b', new Map([['c', 'b/y.ts']])],
      ['c', new Map([['a', 'c/z.ts']])],
    ]);
    expect(findCycle(g)).toEqual(['a', 'b', 'c', 'a']);
    g.get('c')!.delete('a');
    expect(findCycle(g)).toBeNull();
  });

  it('has no import cycle between the top-level folders of src/', () => {
    const graph = folderGraph(sources(SRC));
    expect(graph.size).toBeGreaterThan(5); // the reader sees the imports
    const cycle = findCycle(graph);
    const why = cycle?.slice(1).map((to, i) => `${cycle[i]} -> ${to} (${graph.get(cycle[i])!.get(to)})`).join(', ');
    expect(why ?? 'no cycle').toBe('no cycle');
  });

  it('keeps the HTTP toolkit (api/) below the features built on it (batches/) and the models below both', () => {
    const graph = folderGraph(sources(SRC));
    expect(graph.get('api')?.has('batches') ?? false).toBe(false);
    expect(graph.get('models')?.has('api') ?? false).toBe(false);
    expect(graph.get('batches')?.has('api')).toBe(true);
  });
});
