import type { Observable } from 'rxjs';

/** Typed failures of an EVerest request; each names the command and the module_id it concerns. */
export class EverestRequestError extends Error {
  constructor(
    readonly command: string,
    readonly moduleId: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** EVerest answers nothing to a request it cannot parse, so a timeout is the only signal of that too. */
export class RequestTimeoutError extends EverestRequestError {
  constructor(
    command: string,
    moduleId: string,
    readonly timeoutMs: number,
    /**
     * The request may still be pending in EVerest: this emits its reply if one still comes within the
     * client's late-reply window, else completes empty when the window closes. Absent: nothing to wait for.
     */
    readonly lateReply?: Observable<unknown>,
  ) {
    super(command, moduleId, `${command} to ${moduleId}: no reply within ${timeoutMs} ms`);
  }
}

export class InvalidReplyError extends EverestRequestError {
  constructor(command: string, moduleId: string, readonly reason: string) {
    super(command, moduleId, `${command} to ${moduleId}: invalid reply (${reason})`);
  }
}

export class RequestPublishError extends EverestRequestError {
  constructor(command: string, moduleId: string, override readonly cause: Error) {
    super(command, moduleId, `${command} to ${moduleId}: could not publish (${cause.message})`);
  }
}

export class UnknownEvseError extends Error {
  constructor(readonly moduleId: string) {
    super(`EVSE ${moduleId} is not registered with this client`);
    this.name = 'UnknownEvseError';
  }
}
