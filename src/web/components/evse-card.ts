import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, type Api } from '../api.js';
import { actionStatusWord, decisionWord, kw, kwh, signed } from '../format.js';
import type { ActionTrail, Card } from '../state.js';
import type { ActionRecord, EvseStatusDto } from '../types.js';

interface CardProps {
  card: Card;
  api: Api;
  onActionRequested: (record: ActionRecord) => void;
}

type Scope = 'session' | 'persistent';

const COMMANDS = [
  { type: 'pause', label: 'Pause' },
  { type: 'resume', label: 'Resume' },
  { type: 'enable', label: 'Enable' },
  { type: 'disable', label: 'Disable' },
] as const;

/** Break opportunities inside EVerest's CamelCase states, so ChargingPausedEVSE wraps as words on a narrow card. */
function camelBreaks(text: string) {
  return text.split(/(?<=[a-z])(?=[A-Z])/).map((part, i) => (i === 0 ? part : html`<wbr />${part}`));
}

function tone(status: EvseStatusDto): string {
  if (status.heartbeat.status === 'stale') return 'offline';
  if (status.state === 'Charging') return 'charging';
  if (status.decision && (status.decision.decision === 'pause' || status.decision.decision === 'hold_disabled')) return 'waiting';
  return status.session ? 'occupied' : 'idle';
}

function failureText(what: string, err: unknown): string {
  if (err instanceof ApiFailure) return `${what}: ${err.message}${err.status ? ` (HTTP ${err.status})` : ''}`;
  return `${what}: ${err instanceof Error ? err.message : String(err)}`;
}

export function EvseCard({ card, api, onActionRequested }: CardProps) {
  const { status, trail } = card;
  const id = status.module_id;
  const connector = status.connectors.find((c) => c.id === status.connector_id);
  const [draft, setDraft] = useState<string | null>(null);
  const [scope, setScope] = useState<Scope>(connector?.priority_scope ?? 'session');
  const [notice, setNotice] = useState<{ text: string; bad: boolean } | null>(null);
  const [busy, setBusy] = useState(false);

  // A priority changed elsewhere shows at once, unless the person is typing one.
  useEffect(() => {
    if (connector?.priority_scope) setScope(connector.priority_scope);
  }, [connector?.priority_scope]);

  const savePriority = async (): Promise<void> => {
    const priority = Number(draft ?? status.priority);
    if (draft === null || draft.trim() === '') return;
    setBusy(true);
    try {
      const { message } = await api.call('PUT', '/v1/priorities', { by: 'module', module_id: id, connector_id: status.connector_id, priority, scope });
      setNotice({ text: `Priority ${signed(priority)} saved (${scope}): ${message}`, bad: false });
      setDraft(null);
    } catch (err) {
      setNotice({ text: failureText('Priority not saved', err), bad: true });
    } finally {
      setBusy(false);
    }
  };

  const resetPriority = async (): Promise<void> => {
    setBusy(true);
    try {
      const { message } = await api.call('DELETE', `/v1/priorities/${encodeURIComponent(id)}/${status.connector_id}`);
      setNotice({ text: `Priority reset to 0: ${message}`, bad: false });
      setDraft(null);
    } catch (err) {
      setNotice({ text: failureText('Priority not reset', err), bad: true });
    } finally {
      setBusy(false);
    }
  };

  const command = async (type: string, label: string): Promise<void> => {
    try {
      const { data } = await api.call<ActionRecord>('POST', `/v1/evses/${encodeURIComponent(id)}/actions`, { type, reason: 'from the dashboard' });
      onActionRequested(data);
      setNotice(null);
    } catch (err) {
      setNotice({ text: failureText(`${label} not requested`, err), bad: true });
    }
  };

  const current = status.decision?.current_a;
  const decision = status.decision;
  return html`<article class=${`card ${tone(status)}`} data-module-id=${id} aria-labelledby=${`title-${id}`}>
    <header class="card-head">
      <div>
        <h3 id=${`title-${id}`}>${id}</h3>
        <p class="ids">
          <span title="EVSE-ID">${status.evse_id ?? 'EVSE-ID not yet known'}</span>
          <span> · connector ${status.connector_id}${connector?.type ? ` (${connector.type})` : ''}</span>
        </p>
      </div>
      <span class=${`badge status-${status.status.toLowerCase()}`} data-field="status" title="OCPI status">${status.status}</span>
    </header>

    <dl class="facts">
      <div><dt>EVerest state</dt><dd data-field="state">${camelBreaks(status.state)}</dd></div>
      <div><dt>Heartbeat</dt><dd data-field="heartbeat" class=${`hb-${status.heartbeat.status}`}>${status.heartbeat.status}</dd></div>
      <div><dt>Power</dt><dd data-field="power">${kw(status.power_w)}</dd></div>
      <div><dt>Session energy</dt><dd data-field="energy">${kwh(status.energy_wh)}</dd></div>
      ${typeof current === 'number'
        ? html`<div><dt>Allocated</dt><dd data-field="current">${current.toFixed(1)} A per phase</dd></div>`
        : null}
      ${status.manual_hold ? html`<div><dt>Held by hand</dt><dd>${status.manual_hold}</dd></div>` : null}
    </dl>

    <section class=${`decision ${decision?.decision ?? 'none'}`} data-field="decision" aria-label="Decision">
      ${decision
        ? html`<strong>${decisionWord(decision.decision)}</strong>
            <p>${decision.reason}</p>`
        : html`<strong>No session</strong>
            <p>Nothing to decide until a car is plugged in.</p>`}
    </section>

    <form
      class="priority"
      noValidate
      onSubmit=${(e: Event) => {
        e.preventDefault();
        void savePriority();
      }}
    >
      <label>Priority
        <input
          name="priority"
          type="number"
          min="-9"
          max="9"
          step="1"
          inputmode="numeric"
          value=${draft ?? String(status.priority)}
          onInput=${(e: Event) => setDraft((e.target as HTMLInputElement).value)}
          onKeyDown=${(e: KeyboardEvent) => {
            if (e.key === 'Escape') setDraft(null);
          }}
          aria-describedby=${`prio-help-${id}`}
        />
      </label>
      <label>Scope
        <select name="scope" value=${scope} onChange=${(e: Event) => setScope((e.target as HTMLSelectElement).value as Scope)}>
          <option value="session">this session</option>
          <option value="persistent">persistent</option>
        </select>
      </label>
      <button type="submit" disabled=${busy || draft === null}>Save</button>
      <button type="button" class="secondary" disabled=${busy} onClick=${() => void resetPriority()} aria-label=${`Reset priority of ${id}`}>Reset</button>
      <p class="help" id=${`prio-help-${id}`}>-9 … 9, higher charges first; Enter saves.</p>
    </form>

    <${LastAction} trail=${trail} fallback=${status.last_action} />

    <div class="commands" role="group" aria-label=${`Commands for ${id}`}>
      ${COMMANDS.map(
        (c) => html`<button type="button" class="secondary" onClick=${() => void command(c.type, c.label)} aria-label=${`${c.label} ${id}`}>${c.label}</button>`,
      )}
    </div>
    ${notice ? html`<p class=${notice.bad ? 'notice bad' : 'notice'} role=${notice.bad ? 'alert' : 'status'} data-field="notice">${notice.text}</p>` : null}
  </article>`;
}

function LastAction({ trail, fallback }: { trail: ActionTrail | undefined; fallback: ActionRecord | null }) {
  const shown = trail ?? (fallback ? { id: fallback.id, type: fallback.type, origin: fallback.origin, steps: [fallback.status], result: fallback.result, at: fallback.updated_at } : undefined);
  if (!shown) return html`<p class="last-action muted" data-field="last-action">No command sent yet.</p>`;
  const final = shown.steps[shown.steps.length - 1] ?? '';
  return html`<div class="last-action" data-field="last-action" data-action-id=${shown.id} data-status=${final}>
    <span class="what">${shown.type}</span>
    <span class="origin">by ${shown.origin}</span>
    <ol class="steps">
      ${shown.steps.map((s) => html`<li class=${`step ${s}`}>${actionStatusWord(s)}</li>`)}
    </ol>
    ${shown.result ? html`<span class="result">${shown.result}</span>` : null}
  </div>`;
}
