// The guard of every closed list written as `const LIST = [...] as const` with its type
// `(typeof LIST)[number]`: whether an untrusted value (a stored file, a CLI flag, a query) is on the list.

/** Whether `value` is one of `list`; narrows it to the list's element type. */
export function isOneOf<const T extends readonly unknown[]>(list: T, value: unknown): value is T[number] {
  return list.includes(value);
}
