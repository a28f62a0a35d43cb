import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createPromMetrics } from '../../../src/api/metrics.js';
import type { ActionRecord } from '../../../src/site/actions.js';
import type { SiteEvent } from '../../../src/site/controller.js';
import type { LimitSent } from '../../../src/site/enforcer.js';

const at = '2025-01-01T00:00:00.000Z';
function action(status: ActionRecord['status']): SiteEvent {
  return { type: 'action', at, action: { id: 'a', module_id: 'm', connector_id: 1, type: 'pause', origin: 'scheduler', status, attempts: 1, requested_at: at, updated_at: at } };
}

describe('createPromMetrics', () => {
  it('reports EVerest traffic, HTTP requests and heartbeat ages computed at scrape time', async () => {
    let now = 10_000;
    const metrics = createPromMetrics({ processMetrics: false, now: () => now });
    metrics.messageIn('heartbeat');
    metrics.messageIn('heartbeat');
    metrics.messageOut('pause_charging');
    metrics.invalid('powermeter');
    metrics.lateReply();
    metrics.requestDone('pause_charging', 120, 'reply');
    metrics.heartbeatSeen('evse_1', 9_000);
    metrics.httpRequest('GET', '/v1/evses', 200, 3);
    let text = await metrics.metricsText();
    expect(text).toContain('evse_priority_everest_messages_received_total{name="heartbeat"} 2');
    expect(text).toContain('evse_priority_everest_messages_sent_total{name="pause_charging"} 1');
    expect(text).toContain('evse_priority_everest_invalid_messages_total{name="powermeter"} 1');
    expect(text).toContain('evse_priority_everest_late_replies_total 1');
    expect(text).toContain('evse_priority_everest_request_duration_seconds_bucket{le="0.25",command="pause_charging",outcome="reply"} 1');
    expect(text).toContain('evse_priority_everest_heartbeat_age_seconds{module_id="evse_1"} 1');
    expect(text).toContain('evse_priority_http_requests_total{method="GET",route="/v1/evses",status_code="200"} 1');
    now = 15_500;
    text = await metrics.metricsText();
    expect(text).toContain('evse_priority_everest_heartbeat_age_seconds{module_id="evse_1"} 6.5');
    expect(text).not.toContain('process_cpu');
  });

  it('counts limit messages per EVSE and reads the allocated current when scraped', async () => {
    const metrics = createPromMetrics({ processMetrics: false });
    const limits = new Subject<LimitSent>();
    const sub = metrics.trackLimits(limits);
    let allocations: Array<readonly [string, number]> = [['evse_1', 13], ['evse_2', 0]];
    metrics.allocations(() => allocations);
    for (const why of ['plan', 'refresh', 'plan'] as const) limits.next({ moduleId: 'evse_1', limitsModuleId: 'evse_1_limits', currentA: 13, why, atMs: 0 });
    let text = await metrics.metricsText();
    expect(text).toContain('evse_priority_limit_messages_total{module_id="evse_1"} 3');
    expect(text).toContain('evse_priority_allocated_current_amperes{module_id="evse_1"} 13');
    expect(text).toContain('evse_priority_allocated_current_amperes{module_id="evse_2"} 0');
    allocations = [['evse_2', 6.5]];
    text = await metrics.metricsText();
    expect(text).not.toContain('evse_priority_allocated_current_amperes{module_id="evse_1"}');
    expect(text).toContain('evse_priority_allocated_current_amperes{module_id="evse_2"} 6.5');
    sub.unsubscribe();
  });

  it("reads the site's recompute count and smoothed cost when scraped", async () => {
    const metrics = createPromMetrics({ processMetrics: false });
    let stats = { count: 0, costMs: 0 };
    metrics.recomputes(() => stats);
    expect(await metrics.metricsText()).toContain('evse_priority_site_recomputes_total 0');
    stats = { count: 42, costMs: 2.5 };
    const text = await metrics.metricsText();
    expect(text).toContain('evse_priority_site_recomputes_total 42');
    expect(text).toContain('evse_priority_site_recompute_cost_seconds 0.0025');
  });

  it('counts actions once, when they reach a final status', async () => {
    const metrics = createPromMetrics({ processMetrics: false });
    const events = new Subject<SiteEvent>();
    const subscription = metrics.trackActions(events);
    for (const s of ['requested', 'in_flight', 'completed', 'requested', 'in_flight', 'timed_out'] as const) events.next(action(s));
    events.next({ type: 'budget', max_power_w: 1, set_by: 'x', at });
    const text = await metrics.metricsText();
    expect(text).toContain('evse_priority_actions_total{type="pause",origin="scheduler",outcome="completed"} 1');
    expect(text).toContain('evse_priority_actions_total{type="pause",origin="scheduler",outcome="timed_out"} 1');
    subscription.unsubscribe();
    expect(events.observed).toBe(false);
  });

  it('keeps each instance in its own registry', async () => {
    const a = createPromMetrics();
    const b = createPromMetrics();
    a.messageIn('x');
    expect(await b.metricsText()).not.toContain('name="x"');
    expect(await a.metricsText()).toContain('evse_priority_process_cpu');
  });
});
