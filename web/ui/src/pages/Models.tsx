// The model registry: registered models, and one model's versions with their
// source runs and metrics, and its aliases (which can be moved from here).
import { useState } from 'preact/hooks';
import { mlflow, type ModelVersion, type RegisteredModel, type Run } from '../api';
import { Alias, Crumbs, Empty, ErrorBox, Loading, Status, toast } from '../components/ui';
import { fmtAgo, fmtNumber, fmtTime } from '../format';
import { useAsync, useTitle } from '../hooks';
import { Link, path } from '../router';
import { collectKeys, defaultColumns, metric, runName } from '../runs';

export function Models() {
  useTitle('Models');
  const models = useAsync(() => mlflow.searchModels(), []);
  const list = models.data?.registered_models ?? [];
  return (
    <>
      <div class="page-head">
        <div class="titles">
          <h1>Models</h1>
          <div class="sub">Registered models, their versions and aliases. Serving follows an alias: move it to change what answers requests.</div>
        </div>
      </div>
      <div class="panel">
        {models.error ? (
          <div class="panel-body">
            <ErrorBox error={models.error} what="Could not list models" />
          </div>
        ) : !models.data ? (
          <Loading />
        ) : list.length === 0 ? (
          <Empty title="No registered models yet">
            <p>
              A pipeline's <code>registry.promote</code> step registers the best run's model (both reference pipelines do), or register one from any MLflow client:
            </p>
            <pre class="block">{`cairn demo --quick        # trains and registers fingers and titanic
mlflow.register_model("runs:/<run_id>/model", "my-model")`}</pre>
          </Empty>
        ) : (
          <table class="data" data-testid="models">
            <thead>
              <tr>
                <th>Name</th>
                <th>Aliases</th>
                <th>Latest version</th>
                <th>Updated</th>
                <th>Description</th>
              </tr>
            </thead>
            <tbody>
              {list.map((m) => (
                <tr key={m.name}>
                  <td>
                    <Link href={path('models', m.name)}>{m.name}</Link>
                  </td>
                  <td>
                    <span class="row wrap" style={{ gap: '4px' }}>
                      {(m.aliases ?? []).map((a) => (
                        <span key={a.alias} class="nowrap">
                          <Alias name={a.alias} /> <span class="muted small">v{a.version}</span>
                        </span>
                      ))}
                    </span>
                  </td>
                  <td>{latest(m) ? `v${latest(m)}` : ''}</td>
                  <td title={fmtTime(m.last_updated_timestamp)}>{fmtAgo(m.last_updated_timestamp)}</td>
                  <td class="muted">{m.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </>
  );
}

const latest = (m: RegisteredModel) => (m.latest_versions ?? []).map((v) => Number(v.version)).sort((a, b) => b - a)[0];

export function Model({ name }: { name: string }) {
  useTitle(name);
  const model = useAsync(() => mlflow.getModel(name), [name]);
  const versions = useAsync(async () => {
    const vs = (await mlflow.searchVersions(name)).model_versions ?? [];
    vs.sort((a, b) => Number(b.version) - Number(a.version));
    // The source runs, for their metrics (the newest 50 versions).
    const runs = await Promise.all(vs.slice(0, 50).map((v) => (v.run_id ? mlflow.getRun(v.run_id).then((r) => r.run, () => undefined) : Promise.resolve(undefined))));
    return { vs, runs: new Map(runs.filter((r): r is Run => !!r).map((r) => [r.info.run_id, r])) };
  }, [name]);
  if (model.error) return <ErrorBox error={model.error} what={`Could not load model ${name}`} />;
  if (!model.data) return <Loading />;
  const m = model.data.registered_model;
  const reload = () => {
    model.reload();
    versions.reload();
  };
  return (
    <>
      <div class="page-head">
        <div class="titles">
          <Crumbs items={[['Models', '/models']]} />
          <h1>{m.name}</h1>
          <div class="sub">
            {m.description && <span>{m.description}</span>}
            <span>created {fmtTime(m.creation_timestamp)}</span>
            <span>
              URI <code>models:/{m.name}@{(m.aliases?.find((a) => a.alias === 'champion') ?? m.aliases?.[0])?.alias ?? 'alias'}</code>
            </span>
          </div>
        </div>
      </div>
      <div class="panel">
        <div class="panel-head">
          <h2>Aliases</h2>
          <span class="muted small">a deployment that serves models:/{m.name}@alias follows its alias</span>
        </div>
        <div class="panel-body">
          <Aliases model={m} versions={versions.data?.vs ?? []} onChange={reload} />
        </div>
      </div>
      <div class="panel">
        <div class="panel-head">
          <h2>Versions</h2>
          <span class="muted small">{versions.data?.vs.length ?? ''}</span>
        </div>
        {versions.error ? <div class="panel-body"><ErrorBox error={versions.error} /></div> : !versions.data ? <Loading /> : <Versions vs={versions.data.vs} runs={versions.data.runs} />}
      </div>
    </>
  );
}

function Versions({ vs, runs }: { vs: ModelVersion[]; runs: Map<string, Run> }) {
  if (vs.length === 0) return <p class="panel-body muted">No versions: register a run's model under this name to add one.</p>;
  const keys = defaultColumns(collectKeys([...runs.values()]))
    .filter((c) => c.startsWith('m:'))
    .slice(0, 4)
    .map((c) => c.slice(2));
  return (
    <div style={{ overflowX: 'auto' }}>
      <table class="data" data-testid="versions">
        <thead>
          <tr>
            <th>Version</th>
            <th>Aliases</th>
            <th>Status</th>
            <th>Source run</th>
            {keys.map((k) => (
              <th key={k} class="num mono">
                {k}
              </th>
            ))}
            <th>Registered</th>
          </tr>
        </thead>
        <tbody>
          {vs.map((v) => {
            const r = v.run_id ? runs.get(v.run_id) : undefined;
            return (
              <tr key={v.version} data-version={v.version}>
                <td>
                  <strong>v{v.version}</strong>
                </td>
                <td>
                  <span class="row wrap" style={{ gap: '4px' }}>
                    {(v.aliases ?? []).map((a) => (
                      <Alias key={a} name={a} />
                    ))}
                  </span>
                </td>
                <td>
                  <Status value={v.status || 'READY'} />
                  {v.current_stage && v.current_stage !== 'None' && <span class="badge plain" style={{ marginLeft: '4px' }}>{v.current_stage}</span>}
                </td>
                <td>{v.run_id ? <Link href={path('runs', v.run_id)}>{r ? runName(r) : v.run_id.slice(0, 8)}</Link> : <span class="faint mono small">{v.source}</span>}</td>
                {keys.map((k) => (
                  <td key={k} class="num mono">
                    {r ? fmtNumber(metric(r, k)) : ''}
                  </td>
                ))}
                <td title={fmtTime(v.creation_timestamp)}>{fmtAgo(v.creation_timestamp)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

const aliasRE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function Aliases({ model, versions, onChange }: { model: RegisteredModel; versions: ModelVersion[]; onChange: () => void }) {
  const aliases = model.aliases ?? [];
  const [newAlias, setNewAlias] = useState('');
  const [newVersion, setNewVersion] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<Error | null>(null);
  const versionOpts = versions.map((v) => v.version);

  const set = async (alias: string, version: string) => {
    setErr(null);
    if (!aliasRE.test(alias)) {
      setErr(new Error(`alias "${alias}": expected letters, digits, _ or -, starting with a letter`));
      return;
    }
    if (/^v\d+$/i.test(alias) || alias.toLowerCase() === 'latest') {
      setErr(new Error(`alias "${alias}" is reserved (latest and v<number> name versions)`));
      return;
    }
    setBusy(true);
    try {
      await mlflow.setAlias(model.name, alias, version);
      toast(`@${alias} now points at version ${version}`);
      onChange();
    } catch (e) {
      setErr(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (alias: string) => {
    if (!confirm(`Remove @${alias} from ${model.name}? Deployments that serve models:/${model.name}@${alias} stop finding a version.`)) return;
    setBusy(true);
    try {
      await mlflow.deleteAlias(model.name, alias);
      toast(`@${alias} removed`);
      onChange();
    } catch (e) {
      setErr(e as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      {aliases.length === 0 ? (
        <p class="muted">No aliases yet. Give a version one (for example champion) to serve it by name.</p>
      ) : (
        <table class="data" data-testid="aliases" style={{ marginBottom: '12px' }}>
          <tbody>
            {aliases.map((a) => (
              <tr key={a.alias} data-alias={a.alias}>
                <td style={{ width: '160px' }}>
                  <Alias name={a.alias} />
                </td>
                <td>
                  <label class="row">
                    <span class="muted">points at</span>
                    <select value={a.version} disabled={busy} aria-label={`Version for @${a.alias}`} onChange={(e) => e.currentTarget.value !== a.version && set(a.alias, e.currentTarget.value)}>
                      {versionOpts.includes(a.version) ? null : <option value={a.version}>v{a.version}</option>}
                      {versionOpts.map((v) => (
                        <option key={v} value={v}>
                          v{v}
                        </option>
                      ))}
                    </select>
                  </label>
                </td>
                <td class="right">
                  <button class="small ghost danger" disabled={busy} onClick={() => remove(a.alias)}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        class="row wrap"
        onSubmit={(e) => {
          e.preventDefault();
          if (newAlias && (newVersion || versionOpts[0])) set(newAlias.trim(), newVersion || versionOpts[0]).then(() => setNewAlias(''));
        }}
      >
        <input placeholder="alias, e.g. challenger" value={newAlias} onInput={(e) => setNewAlias(e.currentTarget.value)} aria-label="New alias" class="mono" />
        <select value={newVersion || versionOpts[0]} onChange={(e) => setNewVersion(e.currentTarget.value)} aria-label="Version for the new alias">
          {versionOpts.map((v) => (
            <option key={v} value={v}>
              v{v}
            </option>
          ))}
        </select>
        <button type="submit" disabled={busy || !newAlias || versionOpts.length === 0}>
          Set alias
        </button>
      </form>
      <ErrorBox error={err} what="The alias was not changed" />
    </>
  );
}
