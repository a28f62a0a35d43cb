import type { EvseConfig } from '../config/types.js';
import type { ConnectorRef } from './model.js';

/** One configured EvseManager module: its identifiers as the configuration gives them. */
export type EvseDescriptor = Pick<EvseConfig, 'module_id' | 'serial_number' | 'charge_box_identity' | 'connectors'>;

export type ResolveErrorCode =
  | 'unknown_module'
  | 'unknown_evse_id'
  | 'ambiguous_evse_id'
  | 'unknown_serial_number'
  | 'unknown_charge_box_identity'
  | 'unknown_connector';

export type ResolveResult =
  | { ok: true; module_id: string; connector_id: number }
  | { ok: false; code: ResolveErrorCode; message: string };

interface Evse {
  module_id: string;
  serial_number: string | undefined;
  charge_box_identity: string | undefined;
  connectors: readonly number[];
}

type StationKey = 'serial_number' | 'charge_box_identity';

const q = (s: string): string => JSON.stringify(s);

/**
 * Maps every accepted identifier form onto a (module_id, connector_id) pair.
 *
 * Station identifiers (serial number, chargebox identity) name a charging station, while in EVerest every
 * EvseManager is its own module. When a single module carries the identifier, connector_id is that
 * module's connector id. When several modules share it (a two-EVSE station configured as two
 * EvseManagers), connector_id is the station-wide OCPP 1.6 connector number: the n-th connector counting
 * through those modules in configuration order, which is how gridX and OCPP enumerate them.
 */
export class ConnectorDirectory {
  private readonly evses = new Map<string, Evse>();
  private readonly byStation: Record<StationKey, Map<string, Evse[]>> = {
    serial_number: new Map(),
    charge_box_identity: new Map(),
  };
  /** Every module currently publishing each EVSE-ID; more than one makes the EVSE-ID unusable. */
  private readonly evseIdClaimants = new Map<string, Set<string>>();
  private readonly moduleToEvseId = new Map<string, string>();

  /**
   * @param onConflict told when a second module claims an EVSE-ID another one holds: an EVSE (or
   *   anyone who can publish on its e2m/evse_id topic) must not redirect requests meant for another.
   *   `moduleIds` are all its claimants, `claimant` the one that just claimed it.
   */
  constructor(
    evses: readonly EvseDescriptor[],
    private readonly onConflict: (evseId: string, moduleIds: readonly string[], claimant: string) => void = () => undefined,
  ) {
    for (const d of evses) {
      if (this.evses.has(d.module_id)) throw new Error(`duplicate EVSE module_id ${q(d.module_id)}`);
      if (d.connectors.length === 0) throw new Error(`EVSE ${q(d.module_id)} has no connectors`);
      const seen = new Set<number>();
      for (const c of d.connectors) {
        if (!Number.isInteger(c) || c < 1) throw new Error(`EVSE ${q(d.module_id)}: invalid connector id ${c}`);
        if (seen.has(c)) throw new Error(`EVSE ${q(d.module_id)}: duplicate connector id ${c}`);
        seen.add(c);
      }
      const evse: Evse = {
        module_id: d.module_id,
        serial_number: d.serial_number,
        charge_box_identity: d.charge_box_identity,
        connectors: [...d.connectors],
      };
      this.evses.set(d.module_id, evse);
      for (const key of ['serial_number', 'charge_box_identity'] as const) {
        const id = evse[key];
        if (id === undefined) continue;
        const list = this.byStation[key].get(id);
        if (list) list.push(evse);
        else this.byStation[key].set(id, [evse]);
      }
    }
  }

  /**
   * Records the EVSE-ID an EvseManager published. An empty string forgets the module's EVSE-ID (EVerest
   * publishes '' when none is configured). Returns false for modules that are not configured.
   */
  learnEvseId(module_id: string, evse_id: string): boolean {
    if (!this.evses.has(module_id)) return false;
    const previous = this.moduleToEvseId.get(module_id);
    if (previous !== undefined) {
      const holders = this.evseIdClaimants.get(previous);
      holders?.delete(module_id);
      if (holders?.size === 0) this.evseIdClaimants.delete(previous);
    }
    this.moduleToEvseId.delete(module_id);
    const id = evse_id.trim();
    if (id === '') return true;
    let holders = this.evseIdClaimants.get(id);
    if (!holders) {
      holders = new Set();
      this.evseIdClaimants.set(id, holders);
    }
    holders.add(module_id);
    this.moduleToEvseId.set(module_id, id);
    if (holders.size > 1) this.onConflict(id, [...holders], module_id);
    return true;
  }

  has(module_id: string, connector_id: number): boolean {
    return this.evses.get(module_id)?.connectors.includes(connector_id) ?? false;
  }

  resolve(ref: ConnectorRef): ResolveResult {
    switch (ref.by) {
      case 'module': {
        const evse = this.evses.get(ref.module_id);
        if (!evse) return fail('unknown_module', `unknown module_id ${q(ref.module_id)}`);
        return onEvse(evse, ref.connector_id);
      }
      case 'evse_id': {
        const holders = this.evseIdClaimants.get(ref.evse_id);
        if (holders !== undefined && holders.size > 1) {
          return fail(
            'ambiguous_evse_id',
            `evse_id ${q(ref.evse_id)} is claimed by ${[...holders].map(q).join(' and ')}; refused until only one EVSE publishes it (address it by module_id meanwhile)`,
          );
        }
        const [module_id] = holders ?? [];
        const evse = module_id === undefined ? undefined : this.evses.get(module_id);
        if (!evse) return fail('unknown_evse_id', `unknown evse_id ${q(ref.evse_id)}`);
        // An EVSE-ID names the EVSE, not a connector: take connector 1, or the only/first one if 1 is absent.
        const connector_id = evse.connectors.includes(1) ? 1 : (evse.connectors[0] as number);
        return { ok: true, module_id: evse.module_id, connector_id };
      }
      case 'serial_number':
        return this.resolveStation('serial_number', ref.serial_number, ref.connector_id);
      case 'charge_box_identity':
        return this.resolveStation('charge_box_identity', ref.charge_box_identity, ref.connector_id);
    }
  }

  private resolveStation(key: StationKey, id: string, connector_id: number): ResolveResult {
    const evses = this.byStation[key].get(id);
    if (!evses || evses.length === 0) {
      return fail(key === 'serial_number' ? 'unknown_serial_number' : 'unknown_charge_box_identity', `unknown ${key} ${q(id)}`);
    }
    const [only] = evses;
    if (evses.length === 1 && only) return onEvse(only, connector_id);
    const flat = evses.flatMap((e) => e.connectors.map((c) => ({ module_id: e.module_id, connector_id: c })));
    const hit = Number.isInteger(connector_id) && connector_id >= 1 ? flat[connector_id - 1] : undefined;
    if (hit) return { ok: true, ...hit };
    const layout = flat.map((c, i) => `${i + 1}=${c.module_id}#${c.connector_id}`).join(', ');
    return fail('unknown_connector', `connector ${connector_id} does not exist on ${key} ${q(id)} (connectors: ${layout})`);
  }
}

function onEvse(evse: Evse, connector_id: number): ResolveResult {
  if (evse.connectors.includes(connector_id)) return { ok: true, module_id: evse.module_id, connector_id };
  return fail(
    'unknown_connector',
    `connector ${connector_id} does not exist on ${evse.module_id} (connectors: ${evse.connectors.join(', ')})`,
  );
}

function fail(code: ResolveErrorCode, message: string): ResolveResult {
  return { ok: false, code, message };
}
