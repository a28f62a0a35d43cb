// EVerest's typed e2m streams without a broker, driven by the caller: for the forwarder's tests and bench,
// where the cloud side is what is under test and EVerest's side only has to emit.
import { Subject, type Observable } from 'rxjs';
import type { E2mPayloads, E2mVar } from '../../src/everest/payloads.js';
import type { EverestStreams } from '../../src/forwarding/forwarder.js';

export class DrivenStreams implements EverestStreams {
  private readonly subjects = new Map<string, Subject<unknown>>();
  on<K extends E2mVar>(moduleId: string, name: K): Observable<E2mPayloads[K]> {
    return this.subject(moduleId, name).asObservable() as Observable<E2mPayloads[K]>;
  }
  emit<K extends E2mVar>(moduleId: string, name: K, value: E2mPayloads[K]): void {
    this.subject(moduleId, name).next(value);
  }
  private subject(moduleId: string, name: string): Subject<unknown> {
    const key = `${moduleId}/${name}`;
    let s = this.subjects.get(key);
    if (!s) this.subjects.set(key, (s = new Subject()));
    return s;
  }
}
