import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { ApiFailure, type Api } from '../api.js';
import { kw } from '../format.js';
import type { Samples } from '../state.js';
import type { SiteSummary } from '../types.js';
import { PowerChart } from './chart.js';

export function SitePanel({ site, samples, api }: { site: SiteSummary | undefined; samples: Samples; api: Api }) {
  const [draft, setDraft] = useState('');
  const [notice, setNotice] = useState<{ text: string; bad: boolean } | null>(null);
  const budget = site?.max_power_w ?? 0;
  const share = (w: number) => (budget > 0 ? Math.min(100, (w / budget) * 100) : 0);
  const over = site !== undefined && site.measured_w > budget;
  const forwarding = site?.forwarding;

  const setBudget = async (): Promise<void> => {
    const kwValue = Number(draft);
    if (draft.trim() === '' || !Number.isFinite(kwValue)) {
      setNotice({ text: 'Enter the new budget in kW, e.g. 22', bad: true });
      return;
    }
    try {
      const { message } = await api.call('PUT', '/v1/site', { max_power_w: Math.round(kwValue * 1000) });
      setNotice({ text: `Budget ${kwValue} kW: ${message}`, bad: false });
      setDraft('');
    } catch (err) {
      const why = err instanceof ApiFailure ? `${err.message}${err.status ? ` (HTTP ${err.status})` : ''}` : String(err);
      setNotice({ text: `Budget not changed: ${why}`, bad: true });
    }
  };

  return html`<section class="site" aria-labelledby="site-title" data-section="site">
    <div class="site-head">
      <h2 id="site-title">Site</h2>
      <form
        class="budget"
        noValidate
        onSubmit=${(e: Event) => {
          e.preventDefault();
          void setBudget();
        }}
      >
        <label>Budget (kW)
          <input name="budget_kw" type="number" min="0" step="0.1" inputmode="decimal" placeholder=${(budget / 1000).toFixed(1)} value=${draft}
            onInput=${(e: Event) => setDraft((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Set budget</button>
      </form>
    </div>
    <div class="figures">
      <div class="figure budget-fig"><span class="label">Budget</span><span class="value" data-field="budget">${site ? kw(site.max_power_w) : '–'}</span></div>
      <div class="figure planned-fig"><span class="label">Planned</span><span class="value" data-field="planned">${site ? kw(site.planned_w) : '–'}</span>
        <span class="bar" aria-hidden="true"><span style=${`width:${share(site?.planned_w ?? 0)}%`}></span></span></div>
      <div class=${`figure measured-fig${over ? ' over' : ''}`}><span class="label">Measured</span><span class="value" data-field="measured">${site ? kw(site.measured_w) : '–'}</span>
        <span class="bar" aria-hidden="true"><span style=${`width:${share(site?.measured_w ?? 0)}%`}></span></span></div>
      ${forwarding
        ? html`<div class=${`figure forwarding-fig fw-${forwarding.state}`}><span class="label">Forwarding</span>
            <span class="value" data-field="forwarding">${forwarding.state}</span>
            <span class="sub">${forwarding.queued} queued${forwarding.oldest_age_s ? `, oldest ${Math.round(forwarding.oldest_age_s)} s` : ''}</span></div>`
        : null}
    </div>
    ${notice ? html`<p class=${notice.bad ? 'notice bad' : 'notice'} role=${notice.bad ? 'alert' : 'status'}>${notice.text}</p>` : null}
    <${PowerChart} samples=${samples} />
  </section>`;
}
