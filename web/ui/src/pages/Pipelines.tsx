// Pipelines: the list of definitions and recent runs, and one pipeline's page
// with its graph, its run form and its runs.
import { useMemo } from 'preact/hooks';
import { pipelines, type PipelineRun } from '../api';
import { Dag } from '../components/Dag';
import { RunForm } from '../components/RunForm';
import { Crumbs, Empty, ErrorBox, Loading, Status } from '../components/ui';
import { buildGraph } from '../dag';
import { fmtAgo, fmtDuration, fmtTime } from '../format';
import { useAsync, useTitle } from '../hooks';
import { Link, navigate, path, useLocation } from '../router';
import { parseSpec } from '../spec';

export function Pipelines() {
  useTitle('Pipelines');
  const list = useAsync(() => pipelines.list(), []);
  const runs = useAsync(() => pipelines.runs({ max_results: 50 }), []);
  const defs = list.data?.pipelines ?? [];
  return (
    <>
      <div class="page-head">
        <div class="titles">
          <h1>Pipelines</h1>
          <div class="sub">DAGs of tasks with typed params, run inside this server: open one to run it, or a run to follow its tasks live.</div>
        </div>
      </div>
      <div class="panel">
        <div class="panel-head">
          <h2>Definitions</h2>
          <span class="muted small">{defs.length || ''}</span>
        </div>
        {list.error ? (
          <div class="panel-body">
            <ErrorBox error={list.error} what="Could not list pipelines" />
          </div>
        ) : !list.data ? (
          <Loading />
        ) : defs.length === 0 ? (
          <Empty title="No pipelines yet">
            <p>A pipeline is a YAML file of tasks. Run one in this server's data folder, or register it over the API, and it shows up here:</p>
            <pre class="block">{`cairn run examples/titanic/pipeline.yaml --data ./cairn-data
curl -X POST ${location.origin}/api/2.0/cairn/pipelines/create \\
  -d "$(jq -Rs '{spec: .}' pipeline.yaml)"`}</pre>
          </Empty>
        ) : (
          <table class="data" data-testid="pipelines">
            <thead>
              <tr>
                <th>Name</th>
                <th>Latest run</th>
                <th>Started</th>
                <th>Schedule</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {defs.map((d) => (
                <tr key={d.name}>
                  <td>
                    <Link href={path('pipelines', d.name)}>{d.name}</Link>
                  </td>
                  <td>
                    {d.latest_run ? (
                      <Link href={path('pipeline-runs', d.latest_run.run_id)}>
                        <Status value={d.latest_run.phase} />
                      </Link>
                    ) : (
                      <span class="faint">never run</span>
                    )}
                  </td>
                  <td title={fmtTime(d.latest_run?.creation_time)}>{fmtAgo(d.latest_run?.creation_time)}</td>
                  <td class="mono small">{d.schedule || <span class="faint">—</span>}</td>
                  <td class="muted">{fmtAgo(d.last_update_time)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div class="panel">
        <div class="panel-head">
          <h2>Recent runs</h2>
        </div>
        <RunList runs={runs.data?.runs} error={runs.error} showPipeline />
      </div>
    </>
  );
}

export function RunList({ runs, error, showPipeline }: { runs?: PipelineRun[]; error?: Error; showPipeline?: boolean }) {
  if (error) return <div class="panel-body"><ErrorBox error={error} what="Could not list runs" /></div>;
  if (!runs) return <Loading />;
  if (runs.length === 0) return <p class="panel-body muted">No runs yet.</p>;
  return (
    <table class="data" data-testid="pipeline-runs">
      <thead>
        <tr>
          <th>Run</th>
          {showPipeline && <th>Pipeline</th>}
          <th>Phase</th>
          <th>Trigger</th>
          <th>Created</th>
          <th>Duration</th>
          <th>Params</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.run_id}>
            <td>
              <Link href={path('pipeline-runs', r.run_id)} class="mono">
                {r.run_id.slice(0, 8)}
              </Link>
            </td>
            {showPipeline && (
              <td>
                <Link href={path('pipelines', r.pipeline)}>{r.pipeline}</Link>
              </td>
            )}
            <td>
              <Status value={r.phase} title={r.message} />
            </td>
            <td class="muted">{r.trigger}</td>
            <td title={fmtTime(r.creation_time)}>{fmtAgo(r.creation_time)}</td>
            <td>{fmtDuration(r.start_time, r.end_time || null)}</td>
            <td class="mono small muted" style={{ maxWidth: '360px', overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }} title={JSON.stringify(r.params)}>
              {Object.entries(r.params ?? {})
                .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
                .join(' ')}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function PipelinePage({ name }: { name: string }) {
  useTitle(name);
  const from = useLocation().query.get('from') ?? '';
  const def = useAsync(() => pipelines.get(name), [name]);
  // "Run again…" names the run to start from: its params fill the form.
  const prev = useAsync(async (s) => (from ? (await pipelines.run(from, s)).run : undefined), [from]);
  const runs = useAsync(() => pipelines.runs({ pipeline: name, max_results: 50 }), [name]);
  const spec = useMemo(() => {
    const src = def.data?.pipeline.spec;
    if (!src) return { spec: undefined, error: undefined };
    try {
      return { spec: parseSpec(src), error: undefined };
    } catch (e) {
      return { spec: undefined, error: e as Error };
    }
  }, [def.data]);
  if (def.error) return <ErrorBox error={def.error} what={`Could not load pipeline ${name}`} />;
  if (!def.data) return <Loading />;
  const p = def.data.pipeline;
  return (
    <>
      <div class="page-head">
        <div class="titles">
          <Crumbs items={[['Pipelines', '/pipelines']]} />
          <h1>{p.name}</h1>
          <div class="sub">
            {spec.spec?.description && <span>{spec.spec.description}</span>}
            {p.schedule && (
              <span>
                schedule <code>{p.schedule}</code>
              </span>
            )}
            {p.file && <span class="mono small">{p.file}</span>}
          </div>
        </div>
      </div>
      <ErrorBox error={spec.error} what="The spec could not be read" />
      <div class="grid two">
        <div class="panel">
          <div class="panel-head">
            <h2>Run</h2>
          </div>
          <div class="panel-body">
            {prev.error && <ErrorBox error={prev.error} what={`Could not read run ${from.slice(0, 8)}'s params: the form shows the defaults`} />}
            {spec.spec && from && prev.loading ? (
              <Loading what="Reading the run's params" />
            ) : spec.spec ? (
              <RunForm
                key={prev.data?.run_id ?? 'defaults'}
                pipeline={p.name}
                params={spec.spec.params}
                initial={prev.data?.pipeline === p.name ? prev.data : undefined}
                onStarted={(r) => navigate(path('pipeline-runs', r.run_id))}
              />
            ) : (
              <p class="muted">The form needs the spec.</p>
            )}
          </div>
        </div>
        <div class="panel">
          <div class="panel-head">
            <h2>Graph</h2>
            <span class="muted small">{spec.spec?.tasks.length ?? 0} tasks</span>
          </div>
          {spec.spec && <Dag graph={buildGraph(spec.spec.tasks)} onSelect={() => undefined} />}
        </div>
      </div>
      <div class="panel">
        <div class="panel-head">
          <h2>Runs</h2>
        </div>
        <RunList runs={runs.data?.runs} error={runs.error} />
      </div>
      <details class="panel" style={{ marginTop: '16px' }}>
        <summary class="panel-head" style={{ cursor: 'pointer' }}>
          <h2 style={{ display: 'inline' }}>Spec</h2>
        </summary>
        <pre class="block" style={{ border: 'none', borderRadius: '0' }}>
          {p.spec}
        </pre>
      </details>
    </>
  );
}
