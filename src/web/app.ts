import { html } from 'htm/preact';
import { useCallback, useEffect, useMemo, useReducer, useState } from 'preact/hooks';
import { MAX_PAGE_LIMIT } from '../api/http/schemas/pagination.js';
import { Api, ApiFailure, forgetToken, keepToken, takeToken } from './api.js';
import { EventLog } from './components/event-log.js';
import { EvseCard } from './components/evse-card.js';
import { Login } from './components/login.js';
import { SitePanel } from './components/site-panel.js';
import { initialState, reduce } from './state.js';
import type { ActionRecord, EvseStatusDto, SiteSummary } from './types.js';

type Phase = { kind: 'checking' } | { kind: 'login'; error?: string } | { kind: 'ready' };

/**
 * Fetches the site and every EVSE, page by page (the list keeps its configuration order while the
 * module runs, so the pages fit together): the picture the event stream then keeps current.
 */
async function snapshot(api: Api) {
  const [site, evses] = await Promise.all([api.call<SiteSummary>('GET', '/v1/site'), api.all<EvseStatusDto>(`/v1/evses?limit=${MAX_PAGE_LIMIT}`)]);
  return { kind: 'snapshot' as const, at: evses.timestamp, site: site.data, evses: evses.data };
}

export function App() {
  const [token, setToken] = useState<string | undefined>(() => takeToken());
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });
  const api = useMemo(() => new Api(token), [token]);

  // Nothing of the site shows before the API accepted the token (or runs open, without tokens).
  useEffect(() => {
    let cancelled = false;
    setPhase({ kind: 'checking' });
    api.call('GET', '/v1/site').then(
      () => !cancelled && setPhase({ kind: 'ready' }),
      (err: unknown) => {
        if (cancelled) return;
        if (err instanceof ApiFailure && err.status === 401) {
          forgetToken();
          setPhase({ kind: 'login', ...(token ? { error: `That token was not accepted: ${err.message}` } : {}) });
        } else setPhase({ kind: 'login', error: `The module cannot be reached: ${err instanceof Error ? err.message : String(err)}` });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [api, token]);

  const signOut = useCallback((why?: string) => {
    forgetToken();
    setToken(undefined);
    setPhase({ kind: 'login', ...(why ? { error: why } : {}) });
  }, []);

  if (phase.kind !== 'ready') {
    return html`<${Login}
      error=${phase.kind === 'login' ? phase.error : undefined}
      checking=${phase.kind === 'checking' && token !== undefined}
      onSubmit=${(t: string) => {
        keepToken(t);
        setToken(t);
      }}
    />`;
  }
  return html`<${Dashboard} key=${token ?? 'open'} api=${api} open=${token === undefined} onSignOut=${signOut} />`;
}

/** A failed load of the site and its EVSEs is tried again after this, doubling up to LOAD_RETRY_MAX_MS. */
const LOAD_RETRY_MS = 2_000;
const LOAD_RETRY_MAX_MS = 30_000;

type Connection = { kind: 'connecting' } | { kind: 'live' } | { kind: 'down'; why: string };

function Dashboard({ api, open, onSignOut }: { api: Api; open: boolean; onSignOut: (why?: string) => void }) {
  const [state, dispatch] = useReducer(reduce, initialState);
  const [connection, setConnection] = useState<Connection>({ kind: 'connecting' });
  const [problem, setProblem] = useState<string | undefined>();

  useEffect(() => {
    let closed = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let retryMs = LOAD_RETRY_MS;
    // Until the first list loads, live events wait in the state (state.ts, `early`): a failed load is
    // tried again rather than left to the next reconnection, so they do not pile up for ever.
    const load = (): void => {
      clearTimeout(retry);
      snapshot(api).then(
        (s) => {
          if (closed) return;
          retryMs = LOAD_RETRY_MS;
          dispatch(s);
          setProblem(undefined);
        },
        (err: unknown) => {
          if (closed) return;
          setProblem(`Could not load the site: ${err instanceof Error ? err.message : String(err)}; trying again in ${Math.round(retryMs / 1000)} s`);
          retry = setTimeout(load, retryMs);
          retryMs = Math.min(retryMs * 2, LOAD_RETRY_MAX_MS);
        },
      );
    };
    const stream = api.stream({
      open: () => {
        setConnection({ kind: 'live' });
        // Every (re)connection starts from the whole picture; events newer than it win.
        load();
      },
      event: (event) => dispatch({ kind: 'event', event }),
      down: (why) => setConnection({ kind: 'down', why }),
      unauthorized: (why) => onSignOut(`Signed out: ${why}`),
    });
    return () => {
      closed = true;
      clearTimeout(retry);
      stream.close();
    };
  }, [api, onSignOut]);

  const onActionRequested = useCallback((record: ActionRecord) => dispatch({ kind: 'action_requested', record }), []);
  const charging = state.cards.filter((c) => c.status.state === 'Charging').length;
  const waiting = state.cards.filter((c) => c.status.decision?.decision === 'pause' || c.status.decision?.decision === 'hold_disabled').length;

  return html`<div class="shell">
    <header class="bar">
      <h1>evse-priority</h1>
      <span class="summary">${state.cards.length} EVSEs · ${charging} charging · ${waiting} waiting</span>
      <span class=${`conn ${connection.kind}`} role="status" data-connection=${connection.kind}>
        ${connection.kind === 'live' ? 'Live' : connection.kind === 'connecting' ? 'Connecting…' : `Reconnecting: ${connection.why}`}
      </span>
      ${open
        ? html`<span class="open-api" title="No http.tokens configured">API open</span>`
        : html`<button type="button" class="secondary" onClick=${() => onSignOut()}>Sign out</button>`}
    </header>
    ${problem ? html`<p class="notice bad banner" role="alert">${problem}</p>` : null}
    <main class="layout">
      <${SitePanel} site=${state.site} samples=${state.samples} api=${api} />
      <section class="evses" aria-label="EVSEs">
        ${state.cards.map((card) => html`<${EvseCard} key=${card.status.module_id} card=${card} api=${api} onActionRequested=${onActionRequested} />`)}
      </section>
      <${EventLog} log=${state.log} />
    </main>
  </div>`;
}
