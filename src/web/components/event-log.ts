import { html } from 'htm/preact';
import { clock } from '../format.js';
import type { LogEntry } from '../state.js';

export function EventLog({ log }: { log: LogEntry[] }) {
  return html`<section class="log" aria-labelledby="log-title" data-section="log">
    <h2 id="log-title">Events</h2>
    ${log.length === 0
      ? html`<p class="muted">Decisions and commands appear here as they happen.</p>`
      : html`<ol class="entries">
          ${log.map(
            (e) => html`<li key=${e.id} class=${`entry ${e.tone}`} data-kind=${e.kind}>
              <time datetime=${e.at}>${clock(e.at)}</time>
              ${e.moduleId ? html`<span class="who">${e.moduleId}</span>` : null}
              <span class="text">${e.text}</span>
            </li>`,
          )}
        </ol>`}
  </section>`;
}
