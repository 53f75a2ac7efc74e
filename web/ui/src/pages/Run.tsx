// One run: overview (params, metrics, tags, inputs), metric charts, artifacts.
import { useRef, useState } from 'preact/hooks';
import { mlflow, num, type Metric, type Run as RunT } from '../api';
import { Artifacts } from '../components/Artifacts';
import { Importance } from '../components/Importance';
import { Trials } from '../components/Trials';
import type { Series } from '../components/Chart';
import { ChartControls, defaultView, MetricChart, SingleMetrics, type ChartView } from '../components/MetricChart';
import { CopyId, Crumbs, Empty, ErrorBox, Loading, Status, Tabs } from '../components/ui';
import { breakable, fmtDuration, fmtNumber, fmtTime } from '../format';
import { useAsync, useTitle } from '../hooks';
import { Link, path, useLocation } from '../router';
import { runName, tag } from '../runs';

export function Run({ id }: { id: string }) {
  const loc = useLocation();
  const tab = loc.query.get('tab') ?? 'overview';
  const run = useAsync((s) => mlflow.getRun(id, s), [id]);
  const r = run.data?.run;
  const exp = useAsync(async () => (r ? mlflow.getExperiment(r.info.experiment_id) : undefined), [r?.info.experiment_id]);
  useTitle(r ? runName(r) : 'Run');
  if (run.error) return <ErrorBox error={run.error} what={`Could not load run ${id}`} />;
  if (!r) return <Loading what="Loading the run" />;

  const metrics = [...(r.data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const params = [...(r.data.params ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const tags = [...(r.data.tags ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const parent = tag(r, 'mlflow.parentRunId');
  const pipelineRun = tag(r, 'cairn.pipelineRun');
  const expName = exp.data?.experiment.name ?? r.info.experiment_id;
  const base = path('runs', id);

  return (
    <>
      <div class="page-head">
        <div class="titles">
          <Crumbs items={[['Experiments', '/experiments'], [expName, path('experiments', r.info.experiment_id)]]} />
          <h1 class="row">
            {runName(r)} <Status value={r.info.status} />
          </h1>
          <div class="sub">
            <span>
              ID <CopyId id={r.info.run_id} short={false} />
            </span>
            <span title="Started">{fmtTime(r.info.start_time)}</span>
            <span title="Duration">{fmtDuration(r.info.start_time, r.info.end_time || (r.info.status === 'RUNNING' ? null : r.info.start_time))}</span>
            {r.info.user_id && <span>by {r.info.user_id}</span>}
            {parent && (
              <span>
                parent <Link href={path('runs', parent)}>{parent.slice(0, 8)}</Link>
              </span>
            )}
            {pipelineRun && (
              <span>
                pipeline run <Link href={path('pipeline-runs', pipelineRun)}>{pipelineRun.slice(0, 8)}</Link>
              </span>
            )}
          </div>
        </div>
      </div>
      <Tabs
        active={tab}
        href={(t) => (t === 'overview' ? base : `${base}?tab=${t}`)}
        tabs={[
          { id: 'overview', label: 'Overview' },
          { id: 'charts', label: 'Charts', count: metrics.length },
          { id: 'artifacts', label: 'Artifacts' },
        ]}
      />
      {tab === 'overview' && <Overview run={r} metrics={metrics} params={params} tags={tags} base={base} onChange={run.reload} />}
      {tab === 'charts' &&
        (metrics.length === 0 ? (
          <div class="panel">
            <Empty title="No metrics logged">
              <p>
                Metrics logged with a step (<code>mlflow.log_metric("loss", v, step=epoch)</code>) are drawn here, one chart per metric.
              </p>
            </Empty>
          </div>
        ) : (
          <Charts id={id} label={runName(r)} metrics={metrics.map((m) => m.key)} />
        ))}
      {tab === 'artifacts' && (
        <div class="panel">
          <Artifacts runId={id} selected={loc.query.get('path') ?? ''} />
        </div>
      )}
    </>
  );
}

/** Charts draws a run's metric histories under one set of controls; metrics logged once go to one table. */
function Charts({ id, label, metrics }: { id: string; label: string; metrics: string[] }) {
  const [view, setView] = useState<ChartView>(defaultView);
  const [singles, setSingles] = useState<Record<string, Series[]>>({});
  const takeSingle = (k: string, s: Series[]) => setSingles((o) => ({ ...o, [k]: s }));
  return (
    <>
      <ChartControls view={view} onChange={setView} />
      <div class="grid charts">
        <SingleMetrics metrics={singles} />
        {metrics.map((k) => (
          <MetricChart key={k} metric={k} runs={[{ id, label }]} view={view} onSingle={takeSingle} />
        ))}
      </div>
    </>
  );
}

function Overview({
  run,
  metrics,
  params,
  tags,
  base,
  onChange,
}: {
  run: RunT;
  metrics: Metric[];
  params: { key: string; value: string }[];
  tags: { key: string; value: string }[];
  base: string;
  onChange: () => void;
}) {
  const children = useAsync(
    () =>
      mlflow.searchRuns({
        experiment_ids: [run.info.experiment_id],
        filter: `tags.mlflow.parentRunId = '${run.info.run_id}'`,
        max_results: 200,
      }),
    [run.info.run_id],
  );
  const datasets = run.inputs?.dataset_inputs ?? [];
  // Trials show for a run with children, or a sweep still running (its first trial may be on the way); once
  // shown they stay, though the run ends.
  const showTrials = useRef(false);
  if ((children.data?.runs?.length ?? 0) > 0 || (run.info.status === 'RUNNING' && params.some((p) => p.key === 'tune.metric'))) showTrials.current = true;
  const userTags = tags.filter((t) => !t.key.startsWith('mlflow.') || t.key === 'mlflow.source.name' || t.key === 'mlflow.note.content');
  return (
    <div class="grid two">
      <div class="panel">
        <div class="panel-head">
          <h2>Parameters</h2>
          <span class="muted small">{params.length}</span>
        </div>
        <KeyValues rows={params} none="No parameters logged." testid="params" />
      </div>
      <div class="panel">
        <div class="panel-head">
          <h2>Metrics</h2>
          <span class="muted small">latest values</span>
        </div>
        {metrics.length === 0 ? (
          <p class="panel-body muted">No metrics logged.</p>
        ) : (
          <table class="data kv" data-testid="metrics">
            <tbody>
              {metrics.map((m) => (
                <tr key={m.key}>
                  <td class="mono">
                    <Link href={`${base}?tab=charts`} title="Open the charts">
                      <Breakable text={m.key} />
                    </Link>
                  </td>
                  <td class="mono num" title={`step ${m.step}`}>
                    {fmtNumber(num(m.value))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <Importance runId={run.info.run_id} />
      <div class="panel">
        <div class="panel-head">
          <h2>Tags</h2>
        </div>
        <KeyValues rows={userTags} none="No tags." />
      </div>
      {datasets.length > 0 && (
        <div class="panel">
          <div class="panel-head">
            <h2>Inputs</h2>
          </div>
          <table class="data kv">
            <tbody>
              {datasets.map((d, i) => (
                <tr key={i}>
                  <td class="mono">{d.dataset.name}</td>
                  <td class="mono small">{d.dataset.digest}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {/* A parent's children, live while they run: a sweep's trials or a pipeline's tasks. */}
      {showTrials.current && <Trials run={run} initial={children.data?.runs} onParentChange={onChange} />}
    </div>
  );
}

/** KeyValues is a two-column table of keys and values, or what to say when there are none. */
function KeyValues({ rows, none, testid }: { rows: { key: string; value: string }[]; none: string; testid?: string }) {
  if (rows.length === 0) return <p class="panel-body muted">{none}</p>;
  return (
    <table class="data kv" data-testid={testid}>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key}>
            <td class="mono">
              <Breakable text={r.key} />
            </td>
            <td class="mono">{r.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Breakable shows a key that may wrap after _ . / - rather than mid-word ("best_val_accurac y"). */
function Breakable({ text }: { text: string }) {
  return <>{breakable(text).map((p, i) => (p === null ? <wbr key={i} /> : p))}</>;
}
