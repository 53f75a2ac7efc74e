import { useState } from 'preact/hooks';
import { deployments, mlflow } from '../api';
import { Empty, ErrorBox, Loading } from '../components/ui';
import { fmtAgo, fmtTime } from '../format';
import { useAsync, useTitle } from '../hooks';
import { Link, path } from '../router';

/** TryModels links each model being served to its playground: one click from the home page. */
function TryModels() {
  const deps = useAsync(() => deployments.list().catch(() => ({ deployments: [] })), []);
  const ready = (deps.data?.deployments ?? []).filter((d) => d.state === 'READY');
  if (ready.length === 0) return null;
  return (
    <div class="row wrap try-models" data-testid="try-models">
      <span class="muted">Try a served model:</span>
      {ready.map((d) => (
        <Link key={d.name} class="button small primary" href={path('playground', d.name)} aria-label={`Try the ${d.name} model`}>
          {d.name}
        </Link>
      ))}
    </div>
  );
}

export function Experiments() {
  useTitle('Experiments');
  const exps = useAsync((s) => mlflow.searchExperiments('', s), []);
  const [q, setQ] = useState('');
  const list = (exps.data?.experiments ?? []).filter((e) => !q || e.name.toLowerCase().includes(q.toLowerCase()));
  return (
    <>
      <div class="page-head">
        <div class="titles">
          <h1>Experiments</h1>
          <div class="sub">Every training run is tracked in an experiment: open one to filter, sort and compare its runs.</div>
        </div>
        <input type="search" placeholder="Find an experiment" value={q} onInput={(e) => setQ(e.currentTarget.value)} aria-label="Find an experiment" />
      </div>
      <TryModels />
      <div class="panel">
        {exps.error ? (
          <div class="panel-body">
            <ErrorBox error={exps.error} what="Could not list experiments" />
          </div>
        ) : !exps.data ? (
          <Loading what="Loading experiments" />
        ) : list.length === 0 ? (
          q ? (
            <Empty title={`No experiment matches “${q}”`} />
          ) : (
            <NoExperiments />
          )
        ) : (
          <table class="data" data-testid="experiments">
            <thead>
              <tr>
                <th>Name</th>
                <th>ID</th>
                <th>Last update</th>
                <th>Created</th>
                <th>Artifacts</th>
              </tr>
            </thead>
            <tbody>
              {list.map((e) => (
                <tr key={e.experiment_id}>
                  <td>
                    <Link href={path('experiments', e.experiment_id)}>{e.name}</Link>
                  </td>
                  <td class="mono muted">{e.experiment_id}</td>
                  <td title={fmtTime(e.last_update_time)}>{fmtAgo(e.last_update_time)}</td>
                  <td class="muted">{fmtTime(e.creation_time)}</td>
                  <td class="mono faint small">{e.artifact_location}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </>
  );
}

function NoExperiments() {
  return (
    <Empty title="No experiments yet">
      <p>Log a run with any MLflow client pointed at this server, or train a reference model with Cairn:</p>
      <pre class="block">{`export MLFLOW_TRACKING_URI=${location.origin}
cairn train titanic --data train.csv --model mlp
cairn demo --quick            # both reference pipelines on tiny data`}</pre>
    </Empty>
  );
}
