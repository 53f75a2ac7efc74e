import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Async<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * useAsync runs load when deps change and keeps the latest answer; a newer
 * call's answer always wins over an older one that arrives late.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ data, loading: false }),
      (error: Error) => !ctl.signal.aborted && error.name !== 'AbortError' && setState({ error, loading: false }),
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/**
 * usePoll calls fn now and then every ms milliseconds until it returns false
 * (or deps change, or the component goes away). Calls never overlap; a
 * hidden tab polls less often.
 */
export function usePoll(fn: (signal: AbortSignal) => Promise<boolean>, ms: number, deps: unknown[]) {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      let again = true;
      try {
        again = await fnRef.current(ctl.signal);
      } catch (e) {
        if ((e as Error).name === 'AbortError') return;
      }
      if (again && !ctl.signal.aborted) {
        timer = setTimeout(tick, document.hidden ? ms * 5 : ms);
      }
    };
    tick();
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
}

/** useLocalStorage is state kept in localStorage under key (JSON). */
export function useLocalStorage<T>(key: string, initial: T): [T, (v: T) => void] {
  const read = () => {
    try {
      const s = localStorage.getItem(key);
      return s === null ? initial : (JSON.parse(s) as T);
    } catch {
      return initial;
    }
  };
  const [v, setV] = useState<T>(read);
  const keyRef = useRef(key);
  useEffect(() => {
    if (keyRef.current !== key) {
      keyRef.current = key;
      setV(read());
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const set = useCallback(
    (nv: T) => {
      setV(nv);
      try {
        localStorage.setItem(key, JSON.stringify(nv));
      } catch {
        /* private mode: keep it in memory */
      }
    },
    [key],
  );
  return [v, set];
}

/** useTitle sets the document title while the page shows. */
export function useTitle(title: string) {
  useEffect(() => {
    document.title = title ? `${title} · Cairn` : 'Cairn';
  }, [title]);
}
