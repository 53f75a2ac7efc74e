// Trials follows a run's child runs live (a sweep's trials, a pipeline's
// task runs): a table of each child's status, the params that differ, the
// sweep's metric and how far it got, why it stopped, and every child's curve
// of that metric on one chart. It listens to the server's event stream, the
// way Ray Tune's progress reporter updates, and stops listening when all
// have finished.
import { useEffect, useState } from 'preact/hooks';
import { mlflow, num, type Run } from '../api';
import { fmtDuration, fmtNumber } from '../format';
import { Link, path } from '../router';
import { param, runName, tag } from '../runs';
import { palette } from './Chart';
import { MetricChart } from './MetricChart';
import { useAsync } from '../hooks';
import { ErrorBox, Loading, Status } from './ui';

export const childrenStreamURL = (runId: string) => '/api/2.0/cairn/runs/children/stream?run_id=' + encodeURIComponent(runId);

interface Snapshot {
  run: Run;
  children: Run[];
}

/** trialMetric is the metric a table of trials shows: the sweep's own (param tune.metric), else the children's first. */
export function trialMetric(parent: Run, children: Run[]): string | undefined {
  const m = param(parent, 'tune.metric');
  if (m) return m;
  const keys = new Set(children.flatMap((c) => (c.data.metrics ?? []).map((x) => x.key)));
  for (const k of ['val_accuracy', 'best_val_accuracy', 'val_loss']) if (keys.has(k)) return k;
  return [...keys].sort()[0];
}

/** varying lists the param keys whose values differ among the children: what a trial was sampled with. */
export function varying(children: Run[]): string[] {
  const keys = [...new Set(children.flatMap((c) => (c.data.params ?? []).map((p) => p.key)))].sort();
  return keys.filter((k) => new Set(children.map((c) => param(c, k) ?? '∅')).size > 1);
}

/** useChildren streams a run's children; live is true until the stream says every run has finished. */
export function useChildren(runId: string, initial: Run[] | undefined) {
  const [snap, setSnap] = useState<Snapshot | null>(null);
  const [live, setLive] = useState(false);
  const [tick, setTick] = useState(0);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    const es = new EventSource(childrenStreamURL(runId));
    setLive(true);
    es.addEventListener('runs', (e) => {
      setSnap(JSON.parse((e as MessageEvent).data) as Snapshot);
      setTick((t) => t + 1);
      setError(null);
    });
    es.addEventListener('end', () => {
      es.close(); // else EventSource reconnects
      setLive(false);
    });
    es.addEventListener('error', (e) => {
      const data = (e as MessageEvent).data;
      if (data) {
        setError(JSON.parse(data).message);
        es.close();
        setLive(false);
      }
      // A dropped connection reconnects by itself.
    });
    return () => es.close();
  }, [runId]);
  return { children: snap?.children ?? initial ?? [], parent: snap?.run, live, tick, error };
}

/** SweepTrials shows the trials of the sweep whose tracking run is runId (a tune.sweep task of a pipeline run). */
export function SweepTrials({ runId }: { runId: string }) {
  const data = useAsync(
    async (signal) => {
      const { run } = await mlflow.getRun(runId, signal);
      const kids = await mlflow.searchRuns({ experiment_ids: [run.info.experiment_id], filter: `tags.mlflow.parentRunId = '${runId}'`, max_results: 1000 }, signal);
      return { run, children: kids.runs ?? [] };
    },
    [runId],
  );
  if (data.error) return <ErrorBox error={data.error} what="Could not read the sweep's trials" />;
  if (!data.data) return <Loading what="Reading the trials" />;
  return <Trials run={data.data.run} initial={data.data.children} />;
}

export function Trials({ run, initial, onParentChange }: { run: Run; initial?: Run[]; onParentChange?: () => void }) {
  const { children, parent, live, tick, error } = useChildren(run.info.run_id, initial);
  // The page shows the run's own status too: tell it when the stream sees it change.
  const status = parent?.info.status;
  useEffect(() => {
    if (status && status !== run.info.status) onParentChange?.();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [status]);
  if (children.length === 0 && !live) return null;
  const p = parent ?? run;
  const metric = trialMetric(p, children);
  const keys = varying(children).slice(0, 6);
  const mode = param(p, 'tune.mode') ?? (metric?.includes('loss') ? 'min' : 'max');
  const value = (c: Run) => {
    const m = c.data.metrics?.find((x) => x.key === metric);
    return m ? { v: num(m.value), step: Number(m.step) } : undefined;
  };
  const vals = children.map(value).map((x) => x?.v).filter((v): v is number => Number.isFinite(v));
  const best = vals.length ? (mode === 'min' ? Math.min(...vals) : Math.max(...vals)) : undefined;
  const counts = children.reduce<Record<string, number>>((o, c) => ({ ...o, [c.info.status]: (o[c.info.status] ?? 0) + 1 }), {});
  return (
    <div class="panel" style={{ gridColumn: '1 / -1' }} data-testid="trials" data-live={String(live)}>
      <div class="panel-head">
        <h2>{param(p, 'tune.metric') ? 'Trials' : 'Child runs'}</h2>
        <span class="muted small" data-testid="trial-counts">
          {children.length} · {Object.entries(counts).map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ')}
        </span>
        {live && (
          <span class="badge run" title="Updates as the trials report, streamed by the server">
            live
          </span>
        )}
      </div>
      {error && <p class="panel-body error-box">{error}</p>}
      <div style={{ overflowX: 'auto' }}>
        <table class="data">
          <thead>
            <tr>
              <th>Trial</th>
              <th>Status</th>
              {keys.map((k) => (
                <th key={k} class="mono">
                  {k}
                </th>
              ))}
              {metric && <th class="num mono">{metric}</th>}
              {metric && <th class="num">step</th>}
              <th>stopped by</th>
              <th>duration</th>
            </tr>
          </thead>
          <tbody>
            {children.length === 0 && (
              <tr>
                <td colSpan={5 + keys.length} class="muted">
                  Waiting for the first trial…
                </td>
              </tr>
            )}
            {children.map((c) => {
              const v = value(c);
              const why = tag(c, 'cairn.tune.stopped') ?? tag(c, 'cairn.tune.failed') ?? '';
              return (
                <tr key={c.info.run_id} data-trial={c.info.run_id}>
                  <td>
                    <Link href={path('runs', c.info.run_id)}>{runName(c)}</Link>
                  </td>
                  <td>
                    <Status value={c.info.status} />
                  </td>
                  {keys.map((k) => (
                    <td key={k} class="mono">
                      {param(c, k) ?? ''}
                    </td>
                  ))}
                  {metric && <td class={'num mono' + (v && v.v === best ? ' best' : '')}>{v ? fmtNumber(v.v) : ''}</td>}
                  {metric && <td class="num">{v ? v.step : ''}</td>}
                  <td class="small">{why}</td>
                  <td class="muted">{fmtDuration(c.info.start_time, c.info.end_time || (c.info.status === 'RUNNING' ? null : c.info.start_time))}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {metric && children.length > 0 && children.length <= 64 && (
        <div class="panel-body">
          <MetricChart
            metric={metric}
            refresh={tick}
            runs={children.map((c, i) => ({ id: c.info.run_id, label: runName(c), color: palette[i % palette.length] }))}
          />
        </div>
      )}
    </div>
  );
}
