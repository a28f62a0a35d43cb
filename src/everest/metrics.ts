/**
 * What the EVerest layer reports about its traffic. The Prometheus implementation lives with the
 * API (it owns the registry); this room only calls the interface.
 */
export interface EverestMetrics {
  messageIn(name: string): void;
  messageOut(name: string): void;
  invalid(name: string): void;
  /** A display-only variable carried a value newer than our contract; it was delivered, not dropped. */
  unknownValue(name: string): void;
  lateReply(): void;
  requestDone(command: string, latencyMs: number, outcome: 'reply' | 'timeout' | 'error'): void;
  heartbeatSeen(moduleId: string, atMs: number): void;
}

export const NOOP_EVEREST_METRICS: EverestMetrics = {
  messageIn: () => undefined,
  messageOut: () => undefined,
  invalid: () => undefined,
  unknownValue: () => undefined,
  lateReply: () => undefined,
  requestDone: () => undefined,
  heartbeatSeen: () => undefined,
};

/** Plain counters, for tests and for a process without Prometheus. */
export class CountingEverestMetrics implements EverestMetrics {
  readonly in = new Map<string, number>();
  readonly out = new Map<string, number>();
  readonly invalidByName = new Map<string, number>();
  readonly unknownValueByName = new Map<string, number>();
  lateReplies = 0;
  readonly outcomes = new Map<string, number>();

  messageIn(name: string): void {
    this.in.set(name, (this.in.get(name) ?? 0) + 1);
  }
  messageOut(name: string): void {
    this.out.set(name, (this.out.get(name) ?? 0) + 1);
  }
  invalid(name: string): void {
    this.invalidByName.set(name, (this.invalidByName.get(name) ?? 0) + 1);
  }
  unknownValue(name: string): void {
    this.unknownValueByName.set(name, (this.unknownValueByName.get(name) ?? 0) + 1);
  }
  lateReply(): void {
    this.lateReplies += 1;
  }
  requestDone(_command: string, _latencyMs: number, outcome: 'reply' | 'timeout' | 'error'): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }
  heartbeatSeen(): void {}

  get invalidTotal(): number {
    let total = 0;
    for (const n of this.invalidByName.values()) total += n;
    return total;
  }
}
