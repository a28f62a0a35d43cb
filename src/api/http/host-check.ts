/**
 * `http.allowed_hosts`: a browser tricked by DNS rebinding sends the attacker's name in Host; only
 * the names the API is meant to be reached by are answered. Entries are a name (any port) or
 * name:port, compared case-insensitively; IPv6 literals in brackets.
 */
export class HostAllowList {
  private readonly names = new Set<string>();
  private readonly namesWithPort = new Set<string>();

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase();
      const { port } = splitHost(entry);
      (port === undefined ? this.names : this.namesWithPort).add(entry);
    }
  }

  get enabled(): boolean {
    return this.names.size + this.namesWithPort.size > 0;
  }

  allows(hostHeader: string | undefined): boolean {
    if (!this.enabled) return true;
    if (hostHeader === undefined) return false;
    const host = hostHeader.trim().toLowerCase();
    return this.namesWithPort.has(host) || this.names.has(splitHost(host).name);
  }
}

function splitHost(host: string): { name: string; port: string | undefined } {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return { name: host, port: undefined };
    const rest = host.slice(end + 1);
    return { name: host.slice(0, end + 1), port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colon = host.lastIndexOf(':');
  return colon < 0 ? { name: host, port: undefined } : { name: host.slice(0, colon), port: host.slice(colon + 1) };
}
