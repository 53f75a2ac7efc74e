// A fetch stand-in for component tests: routes by method and path.
import { vi } from 'vitest';

export interface Call {
  method: string;
  url: URL;
  body: unknown;
}
type Handler = (c: Call) => [number, unknown] | Promise<[number, unknown]>;

/** mockFetch answers "METHOD /path" routes (the first whose key matches); unknown routes get 404. */
export function mockFetch(routes: Record<string, Handler>) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://cairn.test');
    const method = (init?.method ?? 'GET').toUpperCase();
    let body: unknown = undefined;
    if (typeof init?.body === 'string') body = JSON.parse(init.body);
    const call = { method, url, body };
    calls.push(call);
    const h = routes[`${method} ${url.pathname}`];
    const [status, out] = h ? await h(call) : [404, { error_code: 'ENDPOINT_NOT_FOUND', message: `no endpoint ${method} ${url.pathname}` }];
    return new Response(typeof out === 'string' ? out : JSON.stringify(out), { status, headers: { 'Content-Type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fn);
  return calls;
}
