import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Empty, Loading, Toasts } from './components/ui';
import { Compare } from './pages/Compare';
import { Experiments } from './pages/Experiments';
import { Run } from './pages/Run';
import { Runs } from './pages/Runs';
import { Link, match, useLocation } from './router';
import { applyTheme, getTheme, nextTheme, type Theme } from './theme';

/** lazy loads a page's code the first time it shows (the pipeline pages bring a YAML parser and a graph layout). */
function lazy<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let C: ComponentType<P> | null = null;
  let failed: Error | null = null;
  return (props: P) => {
    const [, setTick] = useState(0);
    useEffect(() => {
      if (!C && !failed) {
        load().then(
          (c) => ((C = c), setTick((t) => t + 1)),
          (e: Error) => ((failed = e), setTick((t) => t + 1)),
        );
      }
    }, []);
    if (failed) return <div class="error-box">This page could not be loaded ({failed.message}); reload to try again.</div>;
    return C ? <C {...props} /> : <Loading />;
  };
}

const Pipelines = lazy(() => import('./pages/Pipelines').then((m) => m.Pipelines));
const PipelinePage = lazy(() => import('./pages/Pipelines').then((m) => m.PipelinePage));
const PipelineRun = lazy(() => import('./pages/PipelineRun').then((m) => m.PipelineRun));
const Models = lazy(() => import('./pages/Models').then((m) => m.Models));
const Model = lazy(() => import('./pages/Models').then((m) => m.Model));
const Playground = lazy(() => import('./pages/Playground').then((m) => m.Playground));
const Deployment = lazy(() => import('./pages/Playground').then((m) => m.DeploymentPage));

type Route = [string, (p: Record<string, string>) => preact.JSX.Element];

export const routes: Route[] = [
  ['/', () => <Experiments />],
  ['/experiments', () => <Experiments />],
  ['/experiments/:id', (p) => <Runs id={p.id} key={p.id} />],
  ['/runs/:id', (p) => <Run id={p.id} key={p.id} />],
  ['/compare', () => <Compare />],
  ['/pipelines', () => <Pipelines />],
  ['/pipelines/:name', (p) => <PipelinePage name={p.name} key={p.name} />],
  ['/pipeline-runs/:id', (p) => <PipelineRun id={p.id} key={p.id} />],
  ['/models', () => <Models />],
  ['/models/:name', (p) => <Model name={p.name} key={p.name} />],
  ['/playground', () => <Playground />],
  ['/playground/:name', (p) => <Deployment name={p.name} key={p.name} />],
];

/** section is the top-level nav entry a path belongs to. */
export function section(path: string): string {
  if (path === '/' || path.startsWith('/experiments') || path.startsWith('/runs') || path.startsWith('/compare')) return 'experiments';
  if (path.startsWith('/pipeline')) return 'pipelines';
  if (path.startsWith('/models')) return 'models';
  if (path.startsWith('/playground')) return 'playground';
  return '';
}

const themeLabel: Record<Theme, string> = { system: '◐ Auto', light: '☀ Light', dark: '☾ Dark' };

export function App() {
  const loc = useLocation();
  const [theme, setTheme] = useState<Theme>(getTheme);
  useEffect(() => applyTheme(theme), [theme]);
  let page: preact.JSX.Element | null = null;
  for (const [pattern, render] of routes) {
    const params = match(pattern, loc.path);
    if (params) {
      page = render(params);
      break;
    }
  }
  const sec = section(loc.path);
  const nav: [string, string, string][] = [
    ['experiments', '/experiments', 'Experiments'],
    ['pipelines', '/pipelines', 'Pipelines'],
    ['models', '/models', 'Models'],
    ['playground', '/playground', 'Playground'],
  ];
  return (
    <>
      <header class="topbar">
        <Link href="/" class="brand">
          <img src="/favicon.svg" alt="" />
          Cairn
        </Link>
        <nav class="nav" aria-label="Main">
          {nav.map(([id, href, label]) => (
            <Link key={id} href={href} class={sec === id ? 'active' : ''} aria-current={sec === id ? 'page' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <button class="ghost small" onClick={() => setTheme(nextTheme(theme))} title="Colour theme: follow the system, light or dark" data-testid="theme">
          {themeLabel[theme]}
        </button>
      </header>
      <main>
        {page ?? (
          <div class="panel">
            <Empty title="There is no page here">
              <p>
                <code>{loc.path}</code> is not a page of Cairn's UI. Start from the <Link href="/experiments">experiments</Link>, the <Link href="/pipelines">pipelines</Link> or the{' '}
                <Link href="/models">models</Link>.
              </p>
            </Empty>
          </div>
        )}
      </main>
      <Toasts />
    </>
  );
}
