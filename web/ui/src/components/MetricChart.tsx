// MetricChart fetches one metric's history for one or more runs and draws it.
import { useMemo, useState } from 'preact/hooks';
import { mlflow, num, type Metric } from '../api';
import { useAsync } from '../hooks';
import { fmtNumber } from '../format';
import { Chart, palette, type Series } from './Chart';
import { ErrorBox, Loading } from './ui';

export interface ChartRun {
  id: string;
  label: string;
  color?: string;
}

/** toSeries groups history points by run, in the order of runs, sorted by step. */
export function toSeries(points: Metric[], runs: ChartRun[]): Series[] {
  const by = new Map<string, Metric[]>();
  for (const p of points) {
    const id = p.run_id ?? runs[0]?.id ?? '';
    if (!by.has(id)) by.set(id, []);
    by.get(id)!.push(p);
  }
  return runs.map((r, i) => {
    // Keep the latest value logged at each step.
    const steps = new Map<number, number>();
    for (const p of (by.get(r.id) ?? []).sort((a, b) => a.timestamp - b.timestamp)) steps.set(Number(p.step), num(p.value));
    const xs = [...steps.keys()].sort((a, b) => a - b);
    return { label: r.label, color: r.color ?? palette[i % palette.length], x: xs, y: xs.map((x) => steps.get(x)!) };
  });
}

export function MetricChart({ metric, runs, height }: { metric: string; runs: ChartRun[]; height?: number }) {
  const [log, setLog] = useState(false);
  const [big, setBig] = useState(false);
  const [hover, setHover] = useState<{ step: number; value: number | null } | null>(null);
  const ids = runs.map((r) => r.id).join(',');
  const h = useAsync((signal) => mlflow.history(runs.map((r) => r.id), metric, 1000, signal), [ids, metric]);
  const series = useMemo(() => (h.data ? toSeries(h.data.metrics ?? [], runs) : []), [h.data, ids]);
  const points = series.reduce((n, s) => n + s.x.length, 0);
  return (
    <div class="panel chart-card" data-metric={metric} style={big ? { gridColumn: '1 / -1' } : undefined}>
      <div class="chart-title">
        <h3 title={metric}>{metric}</h3>
        {series.length === 1 && series[0].y.length > 1 && (
          <span class="muted small mono" title={`value at step ${series[0].x[series[0].x.length - 1]}`} data-testid="readout">
            {hover ? `step ${hover.step}: ${fmtNumber(hover.value)}` : `last ${fmtNumber(series[0].y[series[0].y.length - 1])}`}
          </span>
        )}
        <button class={'small ghost' + (log ? ' active' : '')} onClick={() => setLog(!log)} title="Logarithmic y axis" aria-pressed={log}>
          {log ? 'linear' : 'log'}
        </button>
        <button class="small ghost" onClick={() => setBig(!big)} title={big ? 'Back to the grid' : 'Full width'} aria-label={big ? 'Shrink chart' : 'Expand chart'}>
          {big ? '⤡' : '⤢'}
        </button>
      </div>
      {h.error ? (
        <ErrorBox error={h.error} />
      ) : !h.data ? (
        <Loading what="Loading history" />
      ) : points === 0 ? (
        <p class="muted">No values logged.</p>
      ) : points === series.length ? (
        <SingleValues series={series} />
      ) : (
        <Chart series={series} log={log} height={big ? 380 : height} onCursor={series.length === 1 ? (step, vs) => setHover(step === null ? null : { step, value: vs[0] }) : undefined} />
      )}
    </div>
  );
}

/** A metric logged once per run reads better as numbers than as dots. */
function SingleValues({ series }: { series: Series[] }) {
  return (
    <table class="data">
      <tbody>
        {series.map((s) => (
          <tr key={s.label}>
            <td>
              <span class="swatch" style={{ background: s.color }} />
              {s.label}
            </td>
            <td class="num">{s.y.length ? String(Number(s.y[0].toPrecision(6))) : ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
