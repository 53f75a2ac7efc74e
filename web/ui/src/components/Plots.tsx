// Plots of several runs over their params and latest metrics, as MLflow's
// compare page has them: parallel coordinates (one axis per column, one line
// per run) and a scatter of any two columns. Plain SVG: a handful of runs.
import { useState } from 'preact/hooks';
import type { Run } from '../api';
import { fmtNumber } from '../format';
import { metric, param, runName } from '../runs';

/** PlotColumn is one param or metric across the runs: numbers, or categories placed in order. */
export interface PlotColumn {
  id: string; // "p:lr", "m:val_accuracy"
  label: string;
  numeric: boolean;
  values: (number | string | undefined)[]; // one per run
  categories?: string[]; // sorted, for a non-numeric column
}

/** plotColumns lists the params that vary across the runs and every metric's latest value. */
export function plotColumns(runs: Run[]): PlotColumn[] {
  const out: PlotColumn[] = [];
  const pkeys = [...new Set(runs.flatMap((r) => (r.data.params ?? []).map((p) => p.key)))].sort();
  for (const k of pkeys) {
    const raw = runs.map((r) => param(r, k));
    if (new Set(raw.map((v) => v ?? '∅')).size < 2) continue; // the same everywhere: nothing to plot
    const numeric = raw.every((v) => v === undefined || (v.trim() !== '' && Number.isFinite(Number(v))));
    const col: PlotColumn = { id: 'p:' + k, label: k, numeric, values: numeric ? raw.map((v) => (v === undefined ? undefined : Number(v))) : raw };
    if (!numeric) col.categories = [...new Set(raw.filter((v): v is string => v !== undefined))].sort();
    out.push(col);
  }
  const mkeys = [...new Set(runs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort();
  for (const k of mkeys) {
    out.push({ id: 'm:' + k, label: k, numeric: true, values: runs.map((r) => { const v = metric(r, k); return v !== undefined && Number.isFinite(v) ? v : undefined; }) });
  }
  return out;
}

/** position maps a run's value in a column to [0, 1] (bottom to top); undefined when it has none. */
export function position(col: PlotColumn, i: number): number | undefined {
  const v = col.values[i];
  if (v === undefined) return undefined;
  if (!col.numeric) {
    const cats = col.categories ?? [];
    return cats.length < 2 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1);
  }
  const nums = col.values.filter((x): x is number => typeof x === 'number');
  const lo = Math.min(...nums);
  const hi = Math.max(...nums);
  return hi === lo ? 0.5 : ((v as number) - lo) / (hi - lo);
}

const fmtValue = (v: number | string | undefined) => (v === undefined ? '—' : typeof v === 'number' ? fmtNumber(v) : v);

/** ends labels an axis: its largest and smallest value (or last and first category). */
function ends(col: PlotColumn): [string, string] {
  if (!col.numeric) {
    const c = col.categories ?? [];
    return [c[c.length - 1] ?? '', c.length > 1 ? c[0] : ''];
  }
  const nums = col.values.filter((x): x is number => typeof x === 'number');
  if (nums.length === 0) return ['', ''];
  return [fmtNumber(Math.max(...nums)), fmtNumber(Math.min(...nums))];
}

export function ParallelPlot({ runs, columns, color }: { runs: Run[]; columns: PlotColumn[]; color: (i: number) => string }) {
  const cols = columns.slice(0, 12);
  const W = Math.max(480, cols.length * 110);
  const H = 250;
  const top = 34;
  const bottom = H - 30;
  const x = (k: number) => 50 + (k * (W - 100)) / Math.max(1, cols.length - 1);
  const y = (p: number) => bottom - p * (bottom - top);
  return (
    <div class="plot-scroll">
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} class="plot" data-testid="parallel" role="img" aria-label={`Parallel coordinates of ${runs.length} runs over ${cols.length} columns`}>
        {cols.map((c, k) => {
          const [hi, lo] = ends(c);
          return (
            <g key={c.id} class="axis">
              <line x1={x(k)} x2={x(k)} y1={top} y2={bottom} />
              <text x={x(k)} y={14} text-anchor="middle" class="name">
                {c.label.length > 16 ? c.label.slice(0, 15) + '…' : c.label}
              </text>
              <text x={x(k) + 4} y={top + 4} class="tick">
                {hi}
              </text>
              <text x={x(k) + 4} y={bottom + 12} class="tick">
                {lo}
              </text>
            </g>
          );
        })}
        {runs.map((r, i) => {
          // A run with no value in a column breaks its line there.
          const parts: string[][] = [[]];
          cols.forEach((c, k) => {
            const p = position(c, i);
            if (p === undefined) parts.push([]);
            else parts[parts.length - 1].push(`${x(k).toFixed(1)},${y(p).toFixed(1)}`);
          });
          return (
            <g key={r.info.run_id} data-run={r.info.run_id}>
              <title>{`${runName(r)}: ${cols.map((c) => `${c.label} ${fmtValue(c.values[i])}`).join(', ')}`}</title>
              {parts.filter((p) => p.length > 0).map((p, j) => (
                <polyline key={j} points={p.join(' ')} fill="none" stroke={color(i)} stroke-width="2" />
              ))}
              {cols.map((c, k) => {
                const p = position(c, i);
                return p === undefined ? null : <circle key={c.id} cx={x(k)} cy={y(p)} r="3" fill={color(i)} />;
              })}
            </g>
          );
        })}
      </svg>
    </div>
  );
}

export function Scatter({ runs, columns, color }: { runs: Run[]; columns: PlotColumn[]; color: (i: number) => string }) {
  // y defaults to a metric every run has, a validation one first.
  const metrics = columns.filter((c) => c.id.startsWith('m:'));
  const everywhere = metrics.filter((c) => c.values.every((v) => v !== undefined));
  const firstMetric = everywhere.find((c) => /val/.test(c.id)) ?? everywhere[0] ?? metrics[0];
  const firstParam = columns.find((c) => c.id.startsWith('p:')) ?? columns[0];
  const [xs, setX] = useState(firstParam?.id ?? '');
  const [ys, setY] = useState(firstMetric?.id ?? columns[1]?.id ?? '');
  const cx = columns.find((c) => c.id === xs) ?? columns[0];
  const cy = columns.find((c) => c.id === ys) ?? columns[Math.min(1, columns.length - 1)];
  if (!cx || !cy) return null;
  const W = 420;
  const H = 280;
  const px = (p: number) => 56 + p * (W - 76);
  const py = (p: number) => H - 40 - p * (H - 70);
  const pick = (value: string, set: (v: string) => void, label: string) => (
    <select value={value} onChange={(e) => set(e.currentTarget.value)} aria-label={label}>
      {columns.map((c) => (
        <option key={c.id} value={c.id}>
          {(c.id.startsWith('p:') ? 'param ' : 'metric ') + c.label}
        </option>
      ))}
    </select>
  );
  const [xhi, xlo] = ends(cx);
  const [yhi, ylo] = ends(cy);
  return (
    <div>
      <div class="row wrap small" style={{ gap: '10px', marginBottom: '8px' }}>
        <label class="row">
          <span class="muted">x</span>
          {pick(cx.id, setX, 'Scatter x')}
        </label>
        <label class="row">
          <span class="muted">y</span>
          {pick(cy.id, setY, 'Scatter y')}
        </label>
      </div>
      <svg viewBox={`0 0 ${W} ${H}`} class="plot" style={{ maxWidth: `${W}px`, width: '100%' }} data-testid="scatter" role="img" aria-label={`${cy.label} against ${cx.label}`}>
        <g class="axis">
          <line x1={px(0)} x2={px(1)} y1={py(0) + 10} y2={py(0) + 10} />
          <line x1={px(0) - 10} x2={px(0) - 10} y1={py(0)} y2={py(1)} />
          <text x={px(0)} y={H - 12} class="tick">
            {xlo}
          </text>
          <text x={px(1)} y={H - 12} text-anchor="end" class="tick">
            {xhi}
          </text>
          <text x={(px(0) + px(1)) / 2} y={H - 2} text-anchor="middle" class="name">
            {cx.label}
          </text>
          <text x={px(0) - 14} y={py(0)} text-anchor="end" class="tick">
            {ylo}
          </text>
          <text x={px(0) - 14} y={py(1) + 8} text-anchor="end" class="tick">
            {yhi}
          </text>
          <text x={12} y={py(1) - 10} class="name">
            {cy.label}
          </text>
        </g>
        {runs.map((r, i) => {
          const a = position(cx, i);
          const b = position(cy, i);
          if (a === undefined || b === undefined) return null;
          return (
            <circle key={r.info.run_id} cx={px(a)} cy={py(b)} r="6" fill={color(i)} data-run={r.info.run_id}>
              <title>{`${runName(r)}: ${cx.label} ${fmtValue(cx.values[i])}, ${cy.label} ${fmtValue(cy.values[i])}`}</title>
            </circle>
          );
        })}
      </svg>
    </div>
  );
}
