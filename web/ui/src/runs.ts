// Pure helpers for the runs table: column IDs, MLflow order_by strings,
// default columns, values of a run.
import { num, type Run } from './api';

/** A column ID: "m:key" for a metric, "p:key" for a param, "t:key" for a tag, else an attribute. */
export type ColumnId = string;

export const attributeColumns: { id: ColumnId; label: string; order?: string }[] = [
  { id: 'name', label: 'Run', order: 'attributes.run_name' },
  { id: 'status', label: 'Status', order: 'attributes.status' },
  { id: 'start', label: 'Started', order: 'attributes.start_time' },
  { id: 'duration', label: 'Duration' },
  { id: 'user', label: 'User', order: 'attributes.user_id' },
];

/** quoteKey quotes a metric/param/tag key for MLflow's grammar when it needs it. */
export function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : '`' + key + '`';
}

const prefixes: Record<string, string> = { 'm:': 'metrics.', 'p:': 'params.', 't:': 'tags.' };

/** orderBy turns a column and a direction into MLflow's order_by expression. */
export function orderBy(id: ColumnId, desc: boolean): string | undefined {
  const dir = desc ? ' DESC' : ' ASC';
  const prefix = prefixes[id.slice(0, 2)];
  if (prefix) return prefix + quoteKey(id.slice(2)) + dir;
  const a = attributeColumns.find((c) => c.id === id);
  return a?.order ? a.order + dir : undefined;
}

/** parseSort reads "m:val_accuracy:desc" from the URL. */
export function parseSort(s: string | null): { id: ColumnId; desc: boolean } | null {
  if (!s) return null;
  const desc = s.endsWith(':desc');
  const id = s.replace(/:(asc|desc)$/, '');
  return orderBy(id, desc) ? { id, desc } : null;
}

export const sortParam = (s: { id: ColumnId; desc: boolean } | null) => (s ? `${s.id}:${s.desc ? 'desc' : 'asc'}` : null);

/** KeySets are the metric, param and tag keys seen in runs (system tags left out). */
export interface KeySets {
  metrics: string[];
  params: string[];
  tags: string[];
}

export function collectKeys(runs: Run[], into?: { metrics: Set<string>; params: Set<string>; tags: Set<string> }): KeySets {
  const s = into ?? { metrics: new Set<string>(), params: new Set<string>(), tags: new Set<string>() };
  for (const r of runs) {
    r.data.metrics?.forEach((m) => s.metrics.add(m.key));
    r.data.params?.forEach((p) => s.params.add(p.key));
    r.data.tags?.forEach((t) => {
      if (!t.key.startsWith('mlflow.')) s.tags.add(t.key);
    });
  }
  const sorted = (x: Set<string>) => [...x].sort((a, b) => a.localeCompare(b));
  return { metrics: sorted(s.metrics), params: sorted(s.params), tags: sorted(s.tags) };
}

const preferred = [/val.*acc/, /test.*acc/, /acc/, /val.*loss/, /loss/, /f1|auc|rmse|mae|r2/];

/**
 * defaultColumns picks what a table shows before anyone chooses: the
 * headline metrics first (accuracy, then loss), up to 5, and up to 5 params.
 */
export function defaultColumns(keys: KeySets): ColumnId[] {
  const rank = (k: string) => {
    const i = preferred.findIndex((re) => re.test(k.toLowerCase()));
    return i < 0 ? preferred.length : i;
  };
  const metrics = [...keys.metrics].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).slice(0, 5);
  return ['name', 'status', 'start', 'duration', ...metrics.map((k) => 'm:' + k), ...keys.params.slice(0, 5).map((k) => 'p:' + k)];
}

/** metric returns a run's latest value of key, or undefined. */
export function metric(run: Run, key: string): number | undefined {
  const m = run.data.metrics?.find((x) => x.key === key);
  return m ? num(m.value) : undefined;
}
export const param = (run: Run, key: string) => run.data.params?.find((x) => x.key === key)?.value;
export const tag = (run: Run, key: string) => run.data.tags?.find((x) => x.key === key)?.value;

/** runName is the run's name, or its short ID. */
export const runName = (run: Run) => run.info.run_name || tag(run, 'mlflow.runName') || run.info.run_id.slice(0, 8);

/** A row of the nested runs table: a run, how deep it sits, and its loaded children. */
export interface NestedRow {
  run: Run;
  depth: number;
  children: number;
}

export const parentOf = (run: Run) => tag(run, 'mlflow.parentRunId');

/**
 * nestRuns orders loaded runs as a tree, as MLflow's table does: each run
 * whose parent (mlflow.parentRunId) is loaded follows that parent, one
 * level deeper, and shows only when the parent is expanded; the rest keep
 * the server's order at the top level. Cycles (a corrupt tag) end at the
 * top level too. Runs in a page that arrive later join their parent.
 */
export function nestRuns(runs: Run[], expanded: Set<string>): NestedRow[] {
  const byId = new Map(runs.map((r) => [r.info.run_id, r]));
  const kids = new Map<string, Run[]>();
  const roots: Run[] = [];
  for (const r of runs) {
    const p = parentOf(r);
    if (p && p !== r.info.run_id && byId.has(p) && !isAncestor(r.info.run_id, p, byId)) {
      const list = kids.get(p);
      if (list) list.push(r);
      else kids.set(p, [r]);
    } else {
      roots.push(r);
    }
  }
  const out: NestedRow[] = [];
  const walk = (r: Run, depth: number) => {
    const ch = kids.get(r.info.run_id) ?? [];
    out.push({ run: r, depth, children: ch.length });
    if (ch.length > 0 && expanded.has(r.info.run_id)) for (const c of ch) walk(c, depth + 1);
  };
  for (const r of roots) walk(r, 0);
  return out;
}

/** isAncestor reports whether id is among p's ancestors (so nesting id under p would loop). */
function isAncestor(id: string, p: string, byId: Map<string, Run>): boolean {
  const seen = new Set<string>();
  for (let cur: string | undefined = p; cur && !seen.has(cur); ) {
    if (cur === id) return true;
    seen.add(cur);
    const r = byId.get(cur);
    cur = r ? parentOf(r) : undefined;
  }
  return false;
}
