// MetricChart fetches one metric's history for one or more runs and draws it.
import { useEffect, useMemo, useState } from 'preact/hooks';
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

/** XAxis is what a chart's x axis counts: steps, seconds since the run's first point, or wall-clock time. */
export type XAxis = 'step' | 'relative' | 'wall';

/** ChartView is how the charts of a page are drawn; the page's controls set it for every chart. */
export interface ChartView {
  x: XAxis;
  /** smoothing is the weight (0 to 0.99) of an exponential moving average, as TensorBoard's slider. */
  smoothing: number;
}
export const defaultView: ChartView = { x: 'step', smoothing: 0 };

export const xLabels: Record<XAxis, string> = { step: 'step', relative: 'seconds since the first value', wall: 'time' };

/** toSeries groups history points by run, in the order of runs, sorted by step; x is the step or the point's time. */
export function toSeries(points: Metric[], runs: ChartRun[], x: XAxis = 'step'): Series[] {
  const by = new Map<string, Metric[]>();
  for (const p of points) {
    const id = p.run_id ?? runs[0]?.id ?? '';
    if (!by.has(id)) by.set(id, []);
    by.get(id)!.push(p);
  }
  return runs.map((r, i) => {
    // Keep the latest value logged at each step (and when it was logged).
    const steps = new Map<number, { v: number; t: number }>();
    for (const p of (by.get(r.id) ?? []).sort((a, b) => a.timestamp - b.timestamp)) steps.set(Number(p.step), { v: num(p.value), t: Number(p.timestamp) });
    const ordered = [...steps.entries()].sort((a, b) => a[0] - b[0]);
    const t0 = Math.min(...ordered.map(([, p]) => p.t));
    const xs = ordered.map(([step, p]) => (x === 'step' ? step : x === 'relative' ? (p.t - t0) / 1000 : p.t / 1000));
    return { label: r.label, color: r.color ?? palette[i % palette.length], x: xs, y: ordered.map(([, p]) => p.v) };
  });
}

/** smooth is an exponential moving average with TensorBoard's debiasing; non-finite values pass through. */
export function smooth(ys: number[], weight: number): number[] {
  if (!(weight > 0)) return ys;
  let last = 0;
  let n = 0;
  return ys.map((y) => {
    if (!Number.isFinite(y)) return y;
    last = last * weight + (1 - weight) * y;
    n++;
    return last / (1 - Math.pow(weight, n));
  });
}

/** forLog hides the values a log scale cannot draw (zero and below) and counts them. */
export function forLog(series: Series[]): { series: Series[]; hidden: number } {
  let hidden = 0;
  const out = series.map((s) => ({
    ...s,
    y: s.y.map((v) => {
      if (v <= 0) {
        hidden++;
        return NaN;
      }
      return v;
    }),
  }));
  return { series: out, hidden };
}

export function MetricChart({
  metric,
  runs,
  height,
  view = defaultView,
  onSingle,
  refresh = 0,
}: {
  metric: string;
  runs: ChartRun[];
  height?: number;
  view?: ChartView;
  /** refresh fetches the history again whenever it changes (live trials). */
  refresh?: number;
  /** onSingle, when set, takes a metric logged once per run instead of this chart drawing it. */
  onSingle?: (metric: string, series: Series[]) => void;
}) {
  const [log, setLog] = useState(false);
  const [big, setBig] = useState(false);
  const [hover, setHover] = useState<{ step: number; value: number | null } | null>(null);
  const ids = runs.map((r) => r.id).join(',');
  const h = useAsync((signal) => mlflow.history(runs.map((r) => r.id), metric, 1000, signal), [ids, metric, refresh]);
  const raw = useMemo(() => (h.data ? toSeries(h.data.metrics ?? [], runs, view.x) : []), [h.data, ids, view.x]);
  const points = raw.reduce((n, s) => n + s.x.length, 0);
  const single = points > 0 && points === raw.length;
  useEffect(() => {
    if (single && onSingle) onSingle(metric, raw);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [single, raw]);
  const drawn = useMemo(() => {
    const smoothed = raw.map((s) => ({ ...s, y: smooth(s.y, view.smoothing) }));
    return log ? forLog(smoothed) : { series: smoothed, hidden: 0 };
  }, [raw, view.smoothing, log]);
  const series = drawn.series;
  if (single && onSingle) return null;
  return (
    <div class="panel chart-card" data-metric={metric} style={big ? { gridColumn: '1 / -1' } : undefined}>
      <div class="chart-title">
        <h3 title={metric}>{metric}</h3>
        {raw.length === 1 && raw[0].y.length > 1 && (
          <span class="muted small mono" title={`the last value logged`} data-testid="readout">
            {hover ? `${view.x === 'step' ? 'step ' : ''}${fmtX(hover.step, view.x)}: ${fmtNumber(hover.value)}` : `last ${fmtNumber(raw[0].y[raw[0].y.length - 1])}`}
          </span>
        )}
        {log && drawn.hidden > 0 && (
          <span class="faint small" data-testid="log-hidden" title="A log scale cannot show zero or negative values">
            {drawn.hidden} ≤ 0 not shown
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
      ) : single ? (
        <SingleValues series={raw} />
      ) : (
        <Chart
          series={series}
          log={log}
          time={view.x === 'wall'}
          xLabel={xLabels[view.x]}
          height={big ? 380 : height}
          onCursor={series.length === 1 ? (step, vs) => setHover(step === null ? null : { step, value: vs[0] }) : undefined}
        />
      )}
    </div>
  );
}

/** fmtX words an x value: a step, seconds, or a wall-clock time. */
export function fmtX(x: number, mode: XAxis): string {
  if (mode === 'wall') return new Date(x * 1000).toLocaleTimeString('en-GB');
  if (mode === 'relative') return `${fmtNumber(Math.round(x * 10) / 10)} s`;
  return String(x);
}

/** ChartControls sets the x axis and smoothing of a page's charts. */
export function ChartControls({ view, onChange }: { view: ChartView; onChange: (v: ChartView) => void }) {
  return (
    <div class="row wrap small chart-controls" data-testid="chart-controls">
      <label class="row">
        <span class="muted">x axis</span>
        <select value={view.x} onChange={(e) => onChange({ ...view, x: e.currentTarget.value as XAxis })} aria-label="x axis">
          <option value="step">step</option>
          <option value="relative">relative time</option>
          <option value="wall">wall time</option>
        </select>
      </label>
      <label class="row">
        <span class="muted">smoothing</span>
        <input
          type="range"
          min="0"
          max="0.99"
          step="0.01"
          value={view.smoothing}
          onInput={(e) => onChange({ ...view, smoothing: Number(e.currentTarget.value) })}
          aria-label="smoothing"
        />
        <span class="mono" data-testid="smoothing">
          {view.smoothing.toFixed(2)}
        </span>
      </label>
    </div>
  );
}

/** SingleMetrics lists metrics logged once per run in one table: a value and a bar each (scaled per metric). */
export function SingleMetrics({ metrics }: { metrics: Record<string, Series[]> }) {
  const keys = Object.keys(metrics).sort();
  if (keys.length === 0) return null;
  const runs = metrics[keys[0]];
  return (
    <div class="panel" style={{ gridColumn: '1 / -1' }} data-testid="single-metrics">
      <div class="panel-head">
        <h2>Logged once</h2>
        <span class="muted small">
          {keys.length} metric{keys.length === 1 ? '' : 's'} with one value
        </span>
      </div>
      <table class="data">
        <tbody>
          {keys.map((k) =>
            metrics[k].map((s, i) => {
              const v = s.y[0];
              const most = Math.max(...metrics[k].map((x) => Math.abs(x.y[0] ?? 0)), 1e-12);
              return (
                <tr key={k + '/' + s.label}>
                  {i === 0 && (
                    <td class="mono" rowSpan={metrics[k].length}>
                      {k}
                    </td>
                  )}
                  {runs.length > 1 && (
                    <td>
                      <span class="swatch" style={{ background: s.color }} />
                      {s.label}
                    </td>
                  )}
                  <td style={{ width: '40%' }}>
                    <div class="meter">
                      <div style={{ width: `${Number.isFinite(v) ? (100 * Math.abs(v)) / most : 0}%`, background: s.color }} />
                    </div>
                  </td>
                  <td class="num">{Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v)}</td>
                </tr>
              );
            }),
          )}
        </tbody>
      </table>
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
