// One pipeline run, live: the graph with task phases (polled every second
// while the run is going), the selected task's log as it grows, and the
// cancel and retry buttons.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { donePhase, pipelines, type PipelineRun as RunT, type PipelineTask } from '../api';
import { Dag } from '../components/Dag';
import { SweepTrials } from '../components/Trials';
import { Crumbs, ErrorBox, Loading, Status, toast } from '../components/ui';
import { buildGraph } from '../dag';
import { fmtDuration, fmtTime, splitRunIds } from '../format';
import { useAsync, usePoll, useTitle } from '../hooks';
import { Link, path, setQuery, useLocation } from '../router';
import { parseSpec } from '../spec';

export const POLL_MS = 1000;

/** defaultTask is the task whose log to show first: a running one, else a failed one, else the first. */
export function defaultTask(all: PipelineTask[]): string | undefined {
  // A for_each task's own row has no log: its items do.
  const fanned = new Set(all.filter((t) => t.item !== undefined && t.item !== null).map((t) => t.task));
  const tasks = all.filter((t) => (t.item !== undefined && t.item !== null) || !fanned.has(t.task));
  return (tasks.find((t) => t.phase === 'Running') ?? tasks.find((t) => t.phase === 'Failed' || t.phase === 'Cancelled') ?? tasks.find((t) => t.attempts > 0) ?? tasks[0])?.node;
}

export function PipelineRun({ id }: { id: string }) {
  const loc = useLocation();
  const [run, setRun] = useState<RunT | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [kick, setKick] = useState(0); // restarts polling after cancel or retry
  const [busy, setBusy] = useState(false);
  useTitle(run ? `${run.pipeline} run ${id.slice(0, 8)}` : 'Pipeline run');

  usePoll(
    async (signal) => {
      try {
        const r = await pipelines.run(id, signal);
        setRun(r.run);
        setError(null);
        return !donePhase(r.run.phase);
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        setError(e as Error);
        return (e as { status?: number }).status !== 404;
      }
    },
    POLL_MS,
    [id, kick],
  );
  // The spec the run ran; older servers only have the pipeline's current one.
  const def = useAsync(async () => (run && !run.spec ? pipelines.get(run.pipeline).catch(() => null) : null), [run?.pipeline, !!run?.spec]);
  const source = run?.spec ?? def.data?.pipeline.spec;
  const spec = useMemo(() => {
    try {
      return source ? parseSpec(source) : undefined;
    } catch {
      return undefined;
    }
  }, [source]);

  if (!run) return error ? <ErrorBox error={error} what={`Could not load pipeline run ${id}`} /> : <Loading what="Loading the run" />;
  const tasks = run.tasks ?? [];
  const selected = loc.query.get('task') ?? defaultTask(tasks);
  const task = tasks.find((t) => t.node === selected);
  // A tune.sweep task's trials are child runs of its tracking run: show them live under its log.
  const sweepRun = task?.tracking_run_id && spec?.tasks.find((t) => t.name === task.task)?.uses === 'tune.sweep' ? task.tracking_run_id : undefined;
  const graph = buildGraph(spec?.tasks, tasks);
  const running = !donePhase(run.phase);

  const act = async (what: 'cancel' | 'retry') => {
    if (what === 'cancel' && !window.confirm(`Cancel run ${id.slice(0, 8)}? Its running tasks are killed and their work so far is lost.`)) return;
    setBusy(true);
    try {
      if (what === 'cancel') {
        await pipelines.cancel(id);
        toast('Cancel requested: running tasks are stopped within a few seconds');
      } else {
        await pipelines.retry(id);
        toast('Retrying the failed and omitted tasks');
      }
      setKick((k) => k + 1);
    } catch (e) {
      toast(`Could not ${what}: ${(e as Error).message}`, { error: true });
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <div class="page-head">
        <div class="titles">
          <Crumbs items={[['Pipelines', '/pipelines'], [run.pipeline, path('pipelines', run.pipeline)]]} />
          <h1 class="row">
            Run <span class="mono">{id.slice(0, 8)}</span> <Status value={run.phase} />
            {run.cancel_requested && running && <span class="badge warn">cancelling</span>}
          </h1>
          <div class="sub">
            <span>{run.trigger && `triggered by ${run.trigger}`}</span>
            <span title="Created">{fmtTime(run.creation_time)}</span>
            <span title="Duration">{fmtDuration(run.start_time, run.end_time || null)}</span>
            {run.tracking_run_id && (
              <span>
                tracked as <Link href={path('runs', run.tracking_run_id)}>run {run.tracking_run_id.slice(0, 8)}</Link>
              </span>
            )}
          </div>
        </div>
        <div class="actions">
          <button class="danger" disabled={!running || busy || run.cancel_requested} onClick={() => act('cancel')} title="Stop the running tasks; the run ends Cancelled">
            Cancel
          </button>
          <button disabled={(run.phase !== 'Failed' && run.phase !== 'Cancelled') || busy} onClick={() => act('retry')} title="Run the failed, cancelled and omitted tasks again; what succeeded is kept">
            Retry
          </button>
          <Link class="button primary" href={`${path('pipelines', run.pipeline)}?from=${encodeURIComponent(run.run_id)}`} title="Run this pipeline again, starting from this run's params">
            Run again…
          </Link>
        </div>
      </div>
      {run.message && run.phase === 'Failed' && <div class="error-box">{run.message}</div>}
      {error && <ErrorBox error={error} what="Lost contact with the server (retrying)" />}
      <div class="panel">
        <div class="panel-head">
          <h2>Tasks</h2>
          <span class="muted small">{running ? 'live: updates every second' : `${tasks.filter((t) => t.phase === 'Succeeded').length}/${tasks.length} succeeded`}</span>
        </div>
        <Dag graph={graph} selected={selected} onSelect={(n) => setQuery({ task: n })} />
      </div>
      <div class="grid log-details" style={{ marginTop: '16px' }}>
        <div class="panel">
          <div class="panel-head">
            <h2>
              Log{task ? ': ' : ''}
              <span class="mono">{task?.node}</span>
            </h2>
            {task && <Status value={task.phase} />}
          </div>
          <div class="panel-body">{task ? <TaskLog key={`${id}/${task.node}/${task.attempts}/${kick}`} runId={id} node={task.node} /> : <p class="muted">Choose a task in the graph.</p>}</div>
        </div>
        <div class="panel">
          <div class="panel-head">
            <h2>Details</h2>
          </div>
          <table class="data kv">
            <tbody>
              {task && <TaskDetails t={task} />}
              <tr>
                <td colSpan={2} style={{ background: 'var(--panel-2)', fontWeight: 600 }}>
                  Run params
                </td>
              </tr>
              {Object.entries(run.params ?? {}).map(([k, v]) => (
                <tr key={k}>
                  <td class="mono">{k}</td>
                  <td class="mono">{typeof v === 'string' ? v : JSON.stringify(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      {sweepRun && (
        <div style={{ marginTop: '16px' }} class="grid">
          <SweepTrials key={sweepRun} runId={sweepRun} />
        </div>
      )}
    </>
  );
}

function TaskDetails({ t }: { t: PipelineTask }) {
  const rows: [string, preact.ComponentChildren][] = [
    ['phase', <Status value={t.phase} />],
    ['attempts', t.attempts],
    ['exit code', t.attempts > 0 && donePhase(t.phase) ? t.exit_code : ''],
    ['started', fmtTime(t.start_time)],
    ['duration', fmtDuration(t.start_time, t.end_time || null)],
    ['cached', t.cached ? `yes, from ${t.cached_from?.slice(0, 8) ?? 'an earlier run'}` : ''],
    ['message', t.message],
    ['tracking run', t.tracking_run_id ? <Link href={path('runs', t.tracking_run_id)}>{t.tracking_run_id.slice(0, 8)}</Link> : ''],
  ];
  return (
    <>
      {rows
        .filter(([, v]) => v !== '' && v !== undefined && v !== null)
        .map(([k, v]) => (
          <tr key={k}>
            <td>{k}</td>
            <td>{v}</td>
          </tr>
        ))}
      {Object.entries(t.outputs ?? {}).map(([k, v]) => (
        <tr key={'o:' + k}>
          <td class="mono">outputs.{k}</td>
          <td class="mono">{v}</td>
        </tr>
      ))}
    </>
  );
}

/** Linked shows log text with its run IDs as links to the runs. */
function Linked({ text }: { text: string }) {
  const parts = useMemo(() => splitRunIds(text), [text]);
  return (
    <>
      {parts.map((p, i) =>
        typeof p === 'string' ? (
          p
        ) : (
          <Link key={i} href={path('runs', p.run)} class="log-link">
            {p.run}
          </Link>
        ),
      )}
    </>
  );
}

/** TaskLog tails a task's log: it polls from the last offset until the task is done and the log read to the end. */
function TaskLog({ runId, node }: { runId: string; node: string }) {
  const [text, setText] = useState('');
  const [done, setDone] = useState(false);
  const [err, setErr] = useState<Error | null>(null);
  const offset = useRef(0);
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  usePoll(
    async (signal) => {
      try {
        // Read everything there is now, a chunk at a time.
        for (;;) {
          const r = await pipelines.logs(runId, node, offset.current, signal);
          setErr(null);
          if (r.data) {
            offset.current = r.next_offset;
            setText((t) => (t + r.data).slice(-2_000_000));
          }
          if (r.done) {
            setDone(true);
            return false;
          }
          if (!r.data) return true;
        }
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        setErr(e as Error);
        return true;
      }
    },
    POLL_MS,
    [runId, node],
  );
  useEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [text]);
  return (
    <>
      <ErrorBox error={err} what="Could not read the log" />
      <pre
        class="logs"
        ref={box}
        data-testid="logs"
        data-done={done}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {text ? <Linked text={text} /> : done ? '(this task wrote nothing)' : 'waiting for output…'}
      </pre>
      <div class="small muted" style={{ marginTop: '6px' }}>
        {done ? 'The task has ended.' : 'Following the log…'}
      </div>
    </>
  );
}
