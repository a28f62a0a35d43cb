type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

/**
 * A configuration section as the domain spells it (`min_on_time_s` -> `minOnTimeS`), so the keys are
 * declared once, in the config types and schema, and a domain type derived with this cannot drift from them.
 */
export type CamelCased<T> = { [K in keyof T as K extends string ? CamelCase<K> : K]: T[K] };

/** The same object with camelCase keys (one level deep): how the composition root hands a section to the domain. */
export function camelCased<T extends object>(section: T): CamelCased<T> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(section)) out[key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase())] = value;
  return out as CamelCased<T>;
}
