/**
 * Limits on the shape of a JSON text, checked on the raw text before it is parsed or validated.
 * Validators, error messages and serializers recurse and iterate over what they are given; a small
 * body can nest thousands of levels deep or hold thousands of keys, so such input is refused first,
 * in one linear pass that allocates nothing.
 */
export interface JsonShapeLimits {
  /** Deepest nesting of objects and arrays. */
  maxDepth: number;
  /** Object members plus array items, counted over the whole text. */
  maxMembers: number;
  /**
   * Texts shorter than this are not scanned (default: every text). For input on a hot path where a
   * short text, whatever its shape, costs less to parse and refuse than the scan itself.
   */
  scanFromChars?: number;
}

/** Our requests are flat objects of a few fields; these leave room for growth and nothing for abuse. */
export const REQUEST_SHAPE_LIMITS: JsonShapeLimits = { maxDepth: 16, maxMembers: 256 };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * Why `text` exceeds the limits, or undefined when it does not. Not a JSON validator: malformed text
 * that stays within the limits passes, and the parser reports it.
 */
export function jsonShapeViolation(text: string, limits: JsonShapeLimits = REQUEST_SHAPE_LIMITS): string | undefined {
  if (limits.scanFromChars !== undefined && text.length < limits.scanFromChars) return undefined;
  let depth = 0;
  let members = 0;
  // Whether each open container is an array; bounded by maxDepth, so allocated once.
  const isArray: boolean[] = new Array<boolean>(limits.maxDepth + 1).fill(false);
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    switch (c) {
      case QUOTE:
        inString = true;
        break;
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        depth++;
        if (depth > limits.maxDepth) return `nests deeper than ${limits.maxDepth} levels`;
        isArray[depth] = c === OPEN_ARRAY;
        // The first item of an array has no comma before it; count it here (an empty array costs one too).
        if (c === OPEN_ARRAY && ++members > limits.maxMembers) return tooMany(limits);
        break;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        depth--;
        break;
      // Each object member has one colon; each further array item one comma.
      case COLON:
        if (++members > limits.maxMembers) return tooMany(limits);
        break;
      case COMMA:
        if (isArray[depth] === true && ++members > limits.maxMembers) return tooMany(limits);
        break;
    }
  }
  return undefined;
}

function tooMany(limits: JsonShapeLimits): string {
  return `has more than ${limits.maxMembers} members (object keys and array items)`;
}
