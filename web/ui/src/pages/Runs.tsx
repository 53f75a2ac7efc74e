// The runs of one experiment: a virtual table paged from the server, with an
// MLflow filter, sorting on any column, chosen columns and a selection to compare.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { mlflow, type Run } from '../api';
import { ColumnPicker } from '../components/ColumnPicker';
import { Crumbs, Empty, ErrorBox, Loading, Status } from '../components/ui';
import { VirtualTable, type Column } from '../components/VirtualTable';
import { fmtAgo, fmtDuration, fmtNumber, fmtTime } from '../format';
import { useAsync, useLocalStorage, useTitle } from '../hooks';
import { Link, navigate, path, setQuery, useLocation } from '../router';
import { attributeColumns, collectKeys, defaultColumns, metric, nestRuns, orderBy, param, parentOf, parseSort, runName, sortParam, tag, type ColumnId } from '../runs';

export const FIRST_PAGE = 200;
export const NEXT_PAGE = 1000;
export const MAX_COMPARE = 10;

interface Loaded {
  runs: Run[];
  next?: string;
  loading: boolean;
  error?: Error;
  done: boolean; // the first page has arrived
  query: string; // the filter and order the rows answer
}

/** useRunPages loads runs page by page; a new filter or order starts over. */
function useRunPages(expId: string, filter: string, order: string | undefined) {
  const key = `${filter}|${order ?? ''}`;
  const [state, setState] = useState<Loaded>({ runs: [], loading: true, done: false, query: '' });
  const gen = useRef(0);
  const busy = useRef(false);
  const ctl = useRef<AbortController | null>(null);

  const fetchPage = (token: string | undefined, g: number, append: boolean) => {
    busy.current = true;
    ctl.current?.abort();
    const c = new AbortController();
    ctl.current = c;
    setState((s) => ({ ...s, loading: true, error: append ? s.error : undefined }));
    mlflow
      .searchRuns(
        {
          experiment_ids: [expId],
          filter: filter || undefined,
          order_by: order ? [order, 'attributes.start_time DESC'] : ['attributes.start_time DESC'],
          max_results: append ? NEXT_PAGE : FIRST_PAGE,
          page_token: token,
        },
        c.signal,
      )
      .then(
        (r) => {
          if (g !== gen.current) return;
          busy.current = false;
          setState((s) => ({ runs: append ? s.runs.concat(r.runs ?? []) : r.runs ?? [], next: r.next_page_token, loading: false, done: true, query: key }));
        },
        (e: Error) => {
          if (g !== gen.current || e.name === 'AbortError') return;
          busy.current = false;
          setState((s) => ({ ...s, runs: append ? s.runs : [], loading: false, error: e, done: true, query: key }));
        },
      );
  };

  useEffect(() => {
    const g = ++gen.current;
    setState({ runs: [], loading: true, done: false, query: '' });
    fetchPage(undefined, g, false);
    return () => ctl.current?.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [expId, filter, order]);

  const more = () => {
    if (busy.current || !state.next) return;
    fetchPage(state.next, gen.current, true);
  };
  return { ...state, more, current: state.query === key };
}

export function Runs({ id }: { id: string }) {
  const loc = useLocation();
  const filter = loc.query.get('filter') ?? '';
  const sort = parseSort(loc.query.get('sort'));
  const order = sort ? orderBy(sort.id, sort.desc) : undefined;
  const exp = useAsync(() => mlflow.getExperiment(id), [id]);
  const name = exp.data?.experiment.name ?? '';
  useTitle(name || 'Runs');

  const [text, setText] = useState(filter);
  useEffect(() => setText(filter), [filter]);
  const pages = useRunPages(id, filter, order);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  useEffect(() => setSelected(new Set()), [id]);

  // Keys seen so far; they grow as pages arrive.
  const keySets = useMemo(() => ({ metrics: new Set<string>(), params: new Set<string>(), tags: new Set<string>() }), [id]);
  const keys = useMemo(() => collectKeys(pages.runs, keySets), [pages.runs, keySets]);
  const [chosen, setChosen] = useLocalStorage<ColumnId[] | null>(`cairn.columns.${id}`, null);
  const columnIds = chosen ?? defaultColumns(keys);

  const apply = (e?: Event) => {
    e?.preventDefault();
    setQuery({ filter: text.trim() || null });
  };
  const onSort = (c: Column) => {
    // Metrics sort best-first (descending) on the first click.
    let next: { id: string; desc: boolean } | null;
    if (sort?.id !== c.id) next = { id: c.id, desc: c.id.startsWith('m:') || c.id === 'start' };
    else if (sort.desc === (c.id.startsWith('m:') || c.id === 'start')) next = { id: c.id, desc: !sort.desc };
    else next = null;
    setQuery({ sort: sortParam(next) });
  };
  const toggle = (runId: string) => {
    const s = new Set(selected);
    if (s.has(runId)) s.delete(runId);
    else s.add(runId);
    setSelected(s);
  };

  // Child runs (mlflow.parentRunId) sit under their parent, collapsed until opened.
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  useEffect(() => setExpanded(new Set()), [id]);
  const nested = useMemo(() => nestRuns(pages.runs, expanded), [pages.runs, expanded]);
  const tree = useMemo(() => {
    const loaded = new Set(pages.runs.map((r) => r.info.run_id));
    const parents = new Set(pages.runs.map(parentOf).filter((p): p is string => !!p && loaded.has(p)));
    return { parents, topLevel: nestRuns(pages.runs, new Set()).length };
  }, [pages.runs]);
  const runs = nested.map((r) => r.run);
  const toggleOpen = (runId: string) => {
    const s = new Set(expanded);
    if (s.has(runId)) s.delete(runId);
    else s.add(runId);
    setExpanded(s);
  };
  const columns: Column[] = [{ id: 'select', label: <SelectAll runs={runs} selected={selected} setSelected={setSelected} />, width: 40, pinned: true }];
  for (const cid of columnIds) {
    const a = attributeColumns.find((c) => c.id === cid);
    if (a) {
      columns.push({ id: cid, label: a.label, width: cid === 'name' ? 230 : cid === 'start' ? 110 : 96, sortable: !!a.order, pinned: cid === 'name' && columnIds[0] === 'name' });
    } else if (cid[1] === ':') {
      const kind = cid[0] === 'm' ? 'metric' : cid[0] === 'p' ? 'param' : 'tag';
      columns.push({
        id: cid,
        label: (
          <>
            <span class="group">{kind}</span>
            {cid.slice(2)}
          </>
        ),
        title: `${kind} ${cid.slice(2)}: click to sort`,
        width: Math.round(Math.min(260, Math.max(110, (cid.length - 2) * 8 + (kind === 'metric' ? 84 : 72)))),
        num: kind === 'metric',
        sortable: true,
      });
    }
  }
  const cell = (i: number, c: Column) => {
    const r = runs[i];
    switch (c.id) {
      case 'select':
        return <input type="checkbox" checked={selected.has(r.info.run_id)} onChange={() => toggle(r.info.run_id)} aria-label={'Select ' + runName(r)} />;
      case 'name': {
        const n = nested[i];
        const open = expanded.has(r.info.run_id);
        return (
          <span class="nest" style={{ paddingLeft: `${n.depth * 16}px` }} data-depth={n.depth}>
            {n.children > 0 ? (
              <button type="button" class="toggle" aria-expanded={open} aria-label={`${open ? 'Hide' : 'Show'} the ${n.children} child runs of ${runName(r)}`} onClick={() => toggleOpen(r.info.run_id)}>
                {open ? '▾' : '▸'}
              </button>
            ) : (
              n.depth > 0 && <span class="toggle" aria-hidden="true" />
            )}
            <Link href={path('runs', r.info.run_id)} title={r.info.run_id}>
              {runName(r)}
            </Link>
            {n.children > 0 && <span class="count">{n.children}</span>}
          </span>
        );
      }
      case 'status':
        return <Status value={r.info.status} />;
      case 'start':
        return <span title={fmtTime(r.info.start_time)}>{fmtAgo(r.info.start_time)}</span>;
      case 'duration':
        return r.info.status === 'RUNNING' ? <span class="muted">{fmtDuration(r.info.start_time)}</span> : fmtDuration(r.info.start_time, r.info.end_time || r.info.start_time);
      case 'user':
        return r.info.user_id;
    }
    const key = c.id.slice(2);
    if (c.id.startsWith('m:')) return fmtNumber(metric(r, key));
    const v = c.id.startsWith('p:') ? param(r, key) : tag(r, key);
    return <span title={v}>{v}</span>;
  };

  const canCompare = selected.size >= 2 && selected.size <= MAX_COMPARE;
  return (
    <>
      <div class="page-head">
        <div class="titles">
          <Crumbs items={[['Experiments', '/experiments']]} />
          <h1>{name || <span class="faint">Experiment {id}</span>}</h1>
        </div>
        <div class="actions">
          <button
            class="primary"
            disabled={!canCompare}
            title={canCompare ? 'Compare the selected runs' : `Select 2 to ${MAX_COMPARE} runs to compare`}
            onClick={() => navigate('/compare?runs=' + [...selected].join(','))}
          >
            Compare{selected.size ? ` (${selected.size})` : ''}
          </button>
          <ColumnPicker keys={keys} value={columnIds} onChange={setChosen} onReset={() => setChosen(null)} />
        </div>
      </div>
      <ErrorBox error={exp.error} what="Could not load the experiment" />
      <form class="row" onSubmit={apply} style={{ marginBottom: '10px' }}>
        <div class="filter-box">
          <input
            type="search"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            placeholder="Filter runs: metrics.val_accuracy > 0.9 and params.model = 'cnn'"
            aria-label="Filter runs (MLflow search syntax)"
            spellcheck={false}
            data-testid="filter"
          />
          <button type="submit">Filter</button>
          {filter && (
            <button type="button" class="ghost" onClick={() => setQuery({ filter: null })}>
              Clear
            </button>
          )}
        </div>
      </form>
      <a
        class="skip"
        href="#runs"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('runs')?.focus();
        }}
      >
        Skip to the runs
      </a>
      <KeyHints keys={keys} onPick={(k) => setText((text ? text.trimEnd() + ' and ' : '') + k + ' ')} />
      {pages.error && <ErrorBox error={pages.error} what={filter ? 'The filter was not accepted' : 'Could not search runs'} />}
      <div class="panel" data-state={pages.done && !pages.loading && pages.current ? 'ready' : 'loading'} data-count={runs.length} data-query={pages.query}>
        {!pages.done ? (
          <Loading what="Searching runs" />
        ) : runs.length === 0 && !pages.error ? (
          filter ? (
            <Empty title="No run matches this filter">
              <p>
                The filter uses MLflow's search syntax, e.g. <code>metrics.val_accuracy &gt; 0.9</code>, <code>params.model = 'cnn'</code>, <code>attributes.status = 'FINISHED'</code> or{' '}
                <code>tags.`cairn.synthetic` = 'true'</code>; combine them with <code>and</code>.
              </p>
            </Empty>
          ) : (
            <Empty title="No runs in this experiment yet">
              <p>Runs appear here as soon as a client logs them, for example:</p>
              <pre class="block">{`export MLFLOW_TRACKING_URI=${location.origin}
python -c "import mlflow; mlflow.set_experiment('${name}'); mlflow.start_run(); mlflow.log_metric('acc', 0.9)"`}</pre>
            </Empty>
          )
        ) : (
          <>
            <VirtualTable
              id="runs"
              columns={columns}
              rowCount={runs.length}
              rowKey={(i) => runs[i].info.run_id}
              rowClass={(i) => (selected.has(runs[i].info.run_id) ? 'selected' : '')}
              cell={cell}
              sort={sort}
              onSort={onSort}
              onNearEnd={pages.more}
            />
            <div class="table-foot">
              <span data-testid="run-count">
                {pages.runs.length.toLocaleString('en-US')} run{pages.runs.length === 1 ? '' : 's'}
                {tree.parents.size > 0 && `, ${(pages.runs.length - tree.topLevel).toLocaleString('en-US')} of them nested under a parent`}
                {pages.next ? ' loaded, more as you scroll' : ''}
              </span>
              {tree.parents.size > 0 && (
                <button class="small ghost" onClick={() => setExpanded(expanded.size > 0 ? new Set() : new Set(tree.parents))} data-testid="expand-all">
                  {expanded.size > 0 ? 'Collapse all' : 'Expand all'}
                </button>
              )}
              {pages.loading && <span class="spinner" />}
              <span class="grow" />
              {selected.size > 0 && (
                <button class="small ghost" onClick={() => setSelected(new Set())}>
                  Clear selection ({selected.size})
                </button>
              )}
            </div>
          </>
        )}
      </div>
    </>
  );
}

function SelectAll({ runs, selected, setSelected }: { runs: Run[]; selected: Set<string>; setSelected: (s: Set<string>) => void }) {
  const all = runs.length > 0 && runs.slice(0, MAX_COMPARE).every((r) => selected.has(r.info.run_id));
  return (
    <input
      type="checkbox"
      checked={all}
      title={`Select the first ${MAX_COMPARE} runs`}
      aria-label={`Select the first ${MAX_COMPARE} runs`}
      onChange={() => setSelected(all ? new Set() : new Set(runs.slice(0, MAX_COMPARE).map((r) => r.info.run_id)))}
    />
  );
}

/** KeyHints lists keys to filter on; a click adds one to the filter. */
function KeyHints({ keys, onPick }: { keys: { metrics: string[]; params: string[] }; onPick: (k: string) => void }) {
  const all = [...keys.metrics.map((k) => 'metrics.' + k), ...keys.params.map((k) => 'params.' + k)];
  if (all.length === 0) return null;
  const shown = all.slice(0, 14);
  return (
    <div class="row wrap small muted" style={{ marginBottom: '12px', gap: '6px' }}>
      <span>Filter on:</span>
      {shown.map((k) => (
        <button key={k} type="button" class="small ghost mono" onClick={() => onPick(k.replace(/^(\w+)\.(.*)$/, (_m, g, key) => g + '.' + (/^\w+$/.test(key) ? key : '`' + key + '`')))}>
          {k}
        </button>
      ))}
      {all.length > shown.length && <span class="faint">and {all.length - shown.length} more</span>}
    </div>
  );
}
