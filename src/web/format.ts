/** Figures as an operator reads them: kW with one decimal, kWh with two. */
export function kw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}

export function kwh(wh: number): string {
  return `${(wh / 1000).toFixed(2)} kWh`;
}

export function clock(iso: string | number): string {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

const STATUS_WORDS: Record<string, string> = {
  requested: 'requested',
  in_flight: 'sent',
  completed: 'completed',
  rejected: 'rejected',
  failed: 'failed',
  timed_out: 'timed out',
};

export function actionStatusWord(status: string): string {
  return STATUS_WORDS[status] ?? status;
}

const DECISION_WORDS: Record<string, string> = {
  charge: 'Charging allowed',
  pause: 'Waiting (paused)',
  hold_disabled: 'Waiting (held)',
  leave: 'Not managed now',
};

export function decisionWord(decision: string): string {
  return DECISION_WORDS[decision] ?? decision;
}
