// Chart draws metric histories with uPlot: step on x, one line per run.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmtNumber } from '../format';

export interface Series {
  label: string;
  color: string;
  x: number[]; // steps
  y: number[];
}

/** palette colours runs consistently across charts; readable on light and dark. */
export const palette = ['#3b82f6', '#ef4444', '#10b981', '#f59e0b', '#8b5cf6', '#ec4899', '#14b8a6', '#f97316', '#6366f1', '#84cc16'];

/**
 * align merges series with different steps into uPlot's columnar form: the
 * sorted union of steps, and for each series its value at each step or null.
 * Non-finite values become null (uPlot cannot draw them).
 */
export function align(series: Series[]): (number | null)[][] {
  const steps = new Set<number>();
  for (const s of series) s.x.forEach((x) => steps.add(x));
  const xs = [...steps].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const out: (number | null)[][] = [xs];
  for (const s of series) {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    s.x.forEach((x, i) => {
      const v = s.y[i];
      col[index.get(x)!] = Number.isFinite(v) ? v : null;
    });
    out.push(col);
  }
  return out;
}

/** stepIncrs keeps the step axis on whole numbers. */
const stepIncrs = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7, 1e8, 1e9];

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** useThemeTick changes whenever light/dark changes, so charts can redraw their colours. */
function useThemeTick(): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const bump = () => setTick((t) => t + 1);
    const mq = window.matchMedia?.('(prefers-color-scheme: dark)');
    mq?.addEventListener?.('change', bump);
    window.addEventListener('cairn-theme', bump);
    return () => {
      mq?.removeEventListener?.('change', bump);
      window.removeEventListener('cairn-theme', bump);
    };
  }, []);
  return tick;
}

export function Chart({
  series,
  height = 230,
  log = false,
  time = false,
  xLabel = 'step',
  onCursor,
}: {
  series: Series[];
  height?: number;
  log?: boolean;
  /** time: x holds Unix seconds, drawn as clock times. */
  time?: boolean;
  xLabel?: string;
  onCursor?: (step: number | null, values: (number | null)[]) => void;
}) {
  const cursorRef = useRef(onCursor);
  cursorRef.current = onCursor;
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const theme = useThemeTick();

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const axis = cssVar('--muted', '#666');
    const grid = cssVar('--border', '#ddd');
    // The caller leaves out what a log scale cannot draw (see forLog).
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time }, y: { distr: log ? 3 : 1 } },
      cursor: { drag: { x: true, y: false } },
      legend: { show: series.length > 1, live: true },
      hooks: {
        setCursor: [
          (u) => {
            const i = u.cursor.idx;
            if (!cursorRef.current) return;
            if (i == null) cursorRef.current(null, []);
            else cursorRef.current(u.data[0][i] as number, u.data.slice(1).map((col) => (col[i] ?? null) as number | null));
          },
        ],
      },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, incrs: xLabel === 'step' ? stepIncrs : undefined, label: xLabel, labelSize: 18, labelFont: '12px system-ui', font: '11px system-ui' },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56, font: '11px system-ui', values: (_u, vals) => vals.map((v) => fmtNumber(v)) },
      ],
      series: [
        { label: xLabel, value: (_u, v) => (v == null ? '' : time ? new Date(v * 1000).toLocaleTimeString('en-GB') : String(Math.round(v * 1000) / 1000)) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.75,
          spanGaps: true,
          points: { show: s.x.length < 40, size: 5 },
          value: (_u: uPlot, v: number | null) => (v == null ? '' : fmtNumber(v)),
        })),
      ],
    };
    const u = new uPlot(opts, align(series) as uPlot.AlignedData, el);
    plot.current = u;
    const ro = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height })) : null;
    ro?.observe(el);
    return () => {
      ro?.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [series, height, log, time, theme, xLabel]);

  return <div class="chart-host" ref={host} data-testid="chart" data-series={series.length} data-x={xLabel} />;
}
