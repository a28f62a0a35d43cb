// Topics we only display must survive a newer EVerest: a copy of their payload schema without `enum` and
// `const` accepts a value added upstream, while the types and required fields still hold.

/** Deep copy of a JSON schema with every `enum` and `const` removed; shared and cyclic nodes stay shared. */
export function withoutEnums(schema: unknown, seen = new Map<object, unknown>()): unknown {
  if (typeof schema !== 'object' || schema === null) return schema;
  const known = seen.get(schema);
  if (known !== undefined) return known;
  if (Array.isArray(schema)) {
    const copy: unknown[] = [];
    seen.set(schema, copy);
    for (const item of schema) copy.push(withoutEnums(item, seen));
    return copy;
  }
  const copy: Record<string, unknown> = {};
  seen.set(schema, copy);
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'enum' || key === 'const') continue;
    copy[key] = withoutEnums(value, seen);
  }
  return copy;
}
