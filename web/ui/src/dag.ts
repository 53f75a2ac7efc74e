// The pipeline graph: nodes (tasks, or the items of a for_each task) with
// their phases, edges from needs, laid out left to right with dagre.
import dagre from '@dagrejs/dagre';
import type { PipelineTask } from './api';
import type { SpecTask } from './spec';

export interface DagNode {
  id: string; // the task run's node ("train[1]"), or the task name
  task: string;
  label: string;
  sub?: string; // the item value of a for_each item
  run?: PipelineTask;
}
export interface DagEdge {
  from: string;
  to: string;
}
export interface Graph {
  nodes: DagNode[];
  edges: DagEdge[];
}

/** itemLabel shows a for_each item's value briefly. */
function itemLabel(t: PipelineTask): string | undefined {
  if (!t.item_value) return t.item !== undefined ? `#${t.item}` : undefined;
  try {
    const v = JSON.parse(t.item_value);
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.entries(v)
        .map(([k, x]) => `${k}=${typeof x === 'string' ? x : JSON.stringify(x)}`)
        .join(' ');
    }
    return typeof v === 'string' ? v : JSON.stringify(v);
  } catch {
    return t.item_value;
  }
}

/**
 * buildGraph joins the spec's tasks (for the edges) with a run's task rows
 * (for phases and for_each items). Either may be missing: a spec alone gives
 * the plan, rows alone give nodes without edges.
 */
export function buildGraph(spec: SpecTask[] | undefined, rows: PipelineTask[] = []): Graph {
  const byTask = new Map<string, PipelineTask[]>();
  for (const r of rows) {
    if (!byTask.has(r.task)) byTask.set(r.task, []);
    byTask.get(r.task)!.push(r);
  }
  const nodes: DagNode[] = [];
  const nodesOf = new Map<string, string[]>();
  const names = spec?.map((t) => t.name) ?? [...byTask.keys()];
  for (const name of byTask.keys()) if (!names.includes(name)) names.push(name);
  for (const name of names) {
    const rs = byTask.get(name) ?? [];
    const items = rs.filter((r) => r.item !== undefined && r.item !== null);
    const ids: string[] = [];
    if (items.length > 0) {
      for (const r of items.sort((a, b) => (a.item ?? 0) - (b.item ?? 0))) {
        nodes.push({ id: r.node, task: name, label: r.node, sub: itemLabel(r), run: r });
        ids.push(r.node);
      }
    } else {
      const r = rs.find((x) => x.item === undefined || x.item === null);
      nodes.push({ id: r?.node ?? name, task: name, label: name, run: r });
      ids.push(r?.node ?? name);
    }
    nodesOf.set(name, ids);
  }
  const edges: DagEdge[] = [];
  for (const t of spec ?? []) {
    for (const need of t.needs) {
      for (const from of nodesOf.get(need) ?? []) {
        for (const to of nodesOf.get(t.name) ?? []) edges.push({ from, to });
      }
    }
  }
  return { nodes, edges };
}

export interface Placed {
  width: number;
  height: number;
  nodes: (DagNode & { x: number; y: number; w: number; h: number })[];
  edges: (DagEdge & { points: { x: number; y: number }[] })[];
}

export const NODE_W = 190;
export const NODE_H = 50;

/** layout places the graph left to right. */
export function layout(g: Graph): Placed {
  const d = new dagre.graphlib.Graph();
  d.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 56, marginx: 8, marginy: 8 });
  d.setDefaultEdgeLabel(() => ({}));
  for (const n of g.nodes) d.setNode(n.id, { width: NODE_W, height: NODE_H });
  for (const e of g.edges) d.setEdge(e.from, e.to);
  dagre.layout(d);
  const gl = d.graph();
  return {
    width: Math.ceil(gl.width ?? NODE_W),
    height: Math.ceil(gl.height ?? NODE_H),
    nodes: g.nodes.map((n) => {
      const p = d.node(n.id);
      return { ...n, x: p.x - NODE_W / 2, y: p.y - NODE_H / 2, w: NODE_W, h: NODE_H };
    }),
    edges: g.edges.map((e) => ({ ...e, points: d.edge(e.from, e.to)?.points ?? [] })),
  };
}
