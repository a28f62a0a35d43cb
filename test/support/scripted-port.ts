// A scripted EVerest side for the enforcer's logic under fake time: every request stays in flight until
// the test answers or fails it. The wire behaviour itself is covered against the simulator and a real
// broker in test/integration and test/reliability.
import { Observable } from 'rxjs';
import type { M2eRequest } from '../../src/everest/payloads.js';
import type { CommandPort, EnforcerConfig } from '../../src/site/enforcer.js';
import { initialEvseView, type EvseView } from '../../src/site/evse-view.js';

export class ScriptedPort implements CommandPort {
  readonly sent: Array<{ moduleId: string; command: M2eRequest; payload: unknown; answer: (v: boolean) => void; fail: (e: Error) => void }> = [];
  request<K extends M2eRequest>(moduleId: string, command: K, ...args: unknown[]): Observable<never> {
    return new Observable((sub) => {
      this.sent.push({
        moduleId,
        command,
        payload: args[0],
        answer: (v) => {
          sub.next(v as never);
          sub.complete();
        },
        fail: (e) => sub.error(e),
      });
    });
  }
  last() {
    const entry = this.sent.at(-1);
    if (!entry) throw new Error('nothing sent');
    return entry;
  }
}

export const SCRIPTED_CONFIG: EnforcerConfig = {
  enableSource: 'LocalAPI',
  enablePriority: 100,
  confirmTimeoutMs: 5000,
  maxRetries: 2,
  retryBackoffMs: 1000,
  rejectCooldownMs: 10_000,
};

export function chargingView(moduleId = 'evse_1'): EvseView {
  return { ...initialEvseView(moduleId), state: 'Charging', session: { uuid: 's', startedAtMs: 0, transaction: true }, powerW: 11000 };
}
