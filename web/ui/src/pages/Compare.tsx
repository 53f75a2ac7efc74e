// Compare 2 to 10 runs: params side by side (differences marked), latest
// metrics (best marked), and every metric's history overlaid.
import { useState } from 'preact/hooks';
import { mlflow, type Run } from '../api';
import { palette } from '../components/Chart';
import type { Series } from '../components/Chart';
import { ChartControls, defaultView, MetricChart, SingleMetrics, type ChartView } from '../components/MetricChart';
import { ParallelPlot, plotColumns, Scatter } from '../components/Plots';
import { Empty, ErrorBox, Loading } from '../components/ui';
import { fmtNumber } from '../format';
import { useAsync, useTitle } from '../hooks';
import { Link, navigate, path, useLocation } from '../router';
import { metric, param, runName } from '../runs';
import { MAX_COMPARE } from './Runs';

/** lowerIsBetter guesses a metric's direction from its name. */
export const lowerIsBetter = (key: string) => /loss|err|rmse|mae|mse|perplexity|time|latency/i.test(key);

/** bestIndex is the index of the best value, or -1 when there is nothing to compare. */
export function bestIndex(values: (number | undefined)[], lower: boolean): number {
  let best = -1;
  values.forEach((v, i) => {
    if (v === undefined || !Number.isFinite(v)) return;
    if (best < 0 || (lower ? v < values[best]! : v > values[best]!)) best = i;
  });
  return values.filter((v) => v !== undefined && Number.isFinite(v)).length > 1 ? best : -1;
}

export function Compare() {
  const loc = useLocation();
  const all = (loc.query.get('runs') ?? '').split(',').filter(Boolean);
  const ids = all.slice(0, MAX_COMPARE);
  useTitle('Compare runs');
  const runs = useAsync((s) => Promise.all(ids.map((id) => mlflow.getRun(id, s).then((r) => r.run))), [ids.join(',')]);
  const [view, setView] = useState<ChartView>(defaultView);
  const [singles, setSingles] = useState<Record<string, Series[]>>({});
  const [onlyDiff, setOnlyDiff] = useState(false);
  const expName = useAsync(async () => (runs.data?.[0] ? mlflow.getExperiment(runs.data[0].info.experiment_id) : undefined), [runs.data?.[0]?.info.experiment_id]);

  if (ids.length < 2) {
    return (
      <div class="panel">
        <Empty title="Pick runs to compare">
          <p>
            In an experiment's runs table, tick 2 to {MAX_COMPARE} runs and press <strong>Compare</strong>. Their params, latest metrics and metric histories show side by side.
          </p>
          <p>
            <Link href="/experiments">Go to the experiments</Link>
          </p>
        </Empty>
      </div>
    );
  }
  if (runs.error) return <ErrorBox error={runs.error} what="Could not load the runs" />;
  if (!runs.data) return <Loading what="Loading runs" />;
  const rs = runs.data;
  const color = (i: number) => palette[i % palette.length];
  const remove = (id: string) => navigate('/compare?runs=' + all.filter((x) => x !== id).join(','), { replace: true });

  const paramKeys = [...new Set(rs.flatMap((r) => (r.data.params ?? []).map((p) => p.key)))].sort();
  const metricKeys = [...new Set(rs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort();
  const differs = (k: string) => new Set(rs.map((r) => param(r, k) ?? '∅')).size > 1;
  const shownParams = onlyDiff ? paramKeys.filter(differs) : paramKeys;
  const exp = rs[0].info.experiment_id;
  const plotCols = plotColumns(rs);

  return (
    <>
      <div class="page-head">
        <div class="titles">
          <div class="crumbs">
            <Link href="/experiments">Experiments</Link>
            <span class="sep">/</span>
            <Link href={path('experiments', exp)}>{expName.data?.experiment.name ?? 'runs'}</Link>
          </div>
          <h1>Comparing {rs.length} runs</h1>
          <div class="sub">
            {rs.map((r, i) => (
              <span key={r.info.run_id} class="row" style={{ gap: '4px' }}>
                <span class="swatch" style={{ background: color(i) }} />
                <Link href={path('runs', r.info.run_id)}>{runName(r)}</Link>
                {rs.length > 2 && (
                  <button class="small ghost" title="Remove from the comparison" aria-label={'Remove ' + runName(r)} onClick={() => remove(r.info.run_id)}>
                    ×
                  </button>
                )}
              </span>
            ))}
          </div>
        </div>
      </div>
      {all.length > MAX_COMPARE && <div class="notice">Only the first {MAX_COMPARE} of the {all.length} runs are compared.</div>}
      <div class="stack">
        <div class="panel">
          <div class="panel-head">
            <h2>Parameters</h2>
            <label class="row small muted">
              <input type="checkbox" checked={onlyDiff} onChange={() => setOnlyDiff(!onlyDiff)} /> only differences
            </label>
          </div>
          <CompareTable runs={rs} color={color} rows={shownParams} value={(r, k) => param(r, k) ?? ''} mark={(k) => (differs(k) ? 'diff' : '')} empty="No parameters logged." />
        </div>
        <div class="panel">
          <div class="panel-head">
            <h2>Metrics</h2>
            <span class="muted small">latest; best in green</span>
          </div>
          <MetricTable runs={rs} color={color} keys={metricKeys} />
        </div>
      </div>
      {plotCols.length >= 2 && (
        <div class="grid plots">
          <div class="panel">
            <div class="panel-head">
              <h2>Parallel coordinates</h2>
              <span class="muted small">the params that differ, and each metric's latest value</span>
            </div>
            <div class="panel-body">
              <ParallelPlot runs={rs} columns={plotCols} color={color} />
            </div>
          </div>
          <div class="panel">
            <div class="panel-head">
              <h2>Scatter</h2>
            </div>
            <div class="panel-body">
              <Scatter runs={rs} columns={plotCols} color={color} />
            </div>
          </div>
        </div>
      )}
      <h2 style={{ margin: '22px 0 10px' }}>Metric histories</h2>
      {metricKeys.length === 0 ? (
        <p class="muted">These runs logged no metrics.</p>
      ) : (
        <>
          <ChartControls view={view} onChange={setView} />
          <div class="grid charts">
            <SingleMetrics metrics={singles} />
            {metricKeys.map((k) => (
              <MetricChart
                key={k}
                metric={k}
                view={view}
                runs={rs.map((r, i) => ({ id: r.info.run_id, label: runName(r), color: color(i) }))}
                onSingle={(m, s) => setSingles((o) => ({ ...o, [m]: s }))}
              />
            ))}
          </div>
        </>
      )}
    </>
  );
}

function Head({ runs, color }: { runs: Run[]; color: (i: number) => string }) {
  return (
    <thead>
      <tr>
        <th />
        {runs.map((r, i) => (
          <th key={r.info.run_id}>
            <span class="swatch" style={{ background: color(i) }} />
            {runName(r)}
          </th>
        ))}
      </tr>
    </thead>
  );
}

function CompareTable({ runs, color, rows, value, mark, empty }: { runs: Run[]; color: (i: number) => string; rows: string[]; value: (r: Run, k: string) => string; mark: (k: string) => string; empty: string }) {
  if (rows.length === 0) return <p class="panel-body muted">{empty}</p>;
  return (
    <div style={{ overflowX: 'auto' }}>
      <table class="data" data-testid="compare-params">
        <Head runs={runs} color={color} />
        <tbody>
          {rows.map((k) => (
            <tr key={k}>
              <td class="mono muted">{k}</td>
              {runs.map((r) => (
                <td key={r.info.run_id} class={'mono ' + mark(k)}>
                  {value(r, k)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function MetricTable({ runs, color, keys }: { runs: Run[]; color: (i: number) => string; keys: string[] }) {
  if (keys.length === 0) return <p class="panel-body muted">No metrics logged.</p>;
  return (
    <div style={{ overflowX: 'auto' }}>
      <table class="data" data-testid="compare-metrics">
        <Head runs={runs} color={color} />
        <tbody>
          {keys.map((k) => {
            const vals = runs.map((r) => metric(r, k));
            const best = bestIndex(vals, lowerIsBetter(k));
            return (
              <tr key={k}>
                <td class="mono muted">{k}</td>
                {vals.map((v, i) => (
                  <td key={i} class={'num mono' + (i === best ? ' best' : '')}>
                    {fmtNumber(v)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
