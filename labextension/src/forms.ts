/**
 * JSON Schema -> a tree of field descriptions, and raw input -> a JSON value.
 *
 * Kept free of the DOM so the rules (which schema gets which input, how an
 * entry becomes JSON) are unit-tested in Node; `formview.ts` draws the tree.
 * The rules match the notebook widget: what the form cannot draw
 * (oneOf, $ref, arrays of objects...) becomes a JSON editor.
 */

/** A JSON Schema, read loosely: any keyword may be missing. */
export type Schema = { [key: string]: any };

/** maxLength above which a string gets a text area. */
export const LONG_TEXT = 200;
/** Boolean fields a Reject button sets to false. */
export const REJECT_FIELDS = ['approved', 'approve', 'accepted', 'accept'];

const COMPOSED = ['oneOf', 'anyOf', 'allOf', '$ref', 'not'];
const SIMPLE_ITEMS = ['string', 'number', 'integer'];

interface Base {
  name: string;
  label: string;
  required: boolean;
  description?: string;
}

export type FieldSpec =
  | (Base & { kind: 'fixed'; value: unknown })
  | (Base & { kind: 'group'; fields: FieldSpec[] })
  | (Base & { kind: 'boolean'; initial: boolean })
  | (Base & { kind: 'choice'; options: unknown[]; initial: number })
  | (Base & { kind: 'date' | 'datetime' | 'text' | 'textarea'; initial: string })
  | (Base & {
      kind: 'number';
      integer: boolean;
      minimum?: number;
      maximum?: number;
      initial: string;
    })
  | (Base & { kind: 'list'; itemType: string; initial: string })
  | (Base & { kind: 'json'; initial: string });

/** What a person typed is not usable; the message names the field. */
export class FormError extends Error {}

function label(schema: Schema, name: string, required: boolean): string {
  const title = typeof schema.title === 'string' && schema.title ? schema.title : name;
  return required ? `${title} *` : title;
}

function datetimeLocal(value: string): string {
  // <input type="datetime-local"> holds local wall time without a zone.
  const at = new Date(value);
  if (isNaN(at.getTime())) {
    return '';
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}` +
    `T${pad(at.getHours())}:${pad(at.getMinutes())}`
  );
}

/** The field tree for `schema`; `top` is the request's own object (no box around it). */
export function describe(schema: unknown, name = '', required = false): FieldSpec {
  const s: Schema = schema && typeof schema === 'object' && !Array.isArray(schema) ? schema : {};
  const base: Base = { name, label: label(s, name, required), required };
  if (typeof s.description === 'string') {
    base.description = s.description;
  }
  const json = (): FieldSpec => ({
    ...base,
    kind: 'json',
    initial: 'default' in s ? JSON.stringify(s.default, null, 2) : ''
  });
  if (s !== schema || COMPOSED.some(k => k in s)) {
    return json();
  }
  if ('const' in s || s.readOnly === true) {
    return { ...base, kind: 'fixed', value: 'const' in s ? s.const : s.default };
  }
  const type = s.type;
  if (type === 'object' || (type === undefined && 'properties' in s)) {
    if (!s.properties || typeof s.properties !== 'object') {
      return json();
    }
    const needed = new Set(Array.isArray(s.required) ? s.required : []);
    const fields = Object.entries(s.properties).map(([key, sub]) => describe(sub, key, needed.has(key)));
    return { ...base, kind: 'group', fields };
  }
  if (type === 'boolean') {
    return { ...base, kind: 'boolean', initial: s.default === true };
  }
  if (type === 'string') {
    if (Array.isArray(s.enum)) {
      return { ...base, kind: 'choice', options: s.enum, initial: s.enum.indexOf(s.default) };
    }
    const initial = typeof s.default === 'string' ? s.default : '';
    if (s.format === 'date') {
      return { ...base, kind: 'date', initial };
    }
    if (s.format === 'date-time') {
      return { ...base, kind: 'datetime', initial: initial ? datetimeLocal(initial) : '' };
    }
    const long = s.format === 'textarea' || (typeof s.maxLength === 'number' && s.maxLength > LONG_TEXT);
    return { ...base, kind: long ? 'textarea' : 'text', initial };
  }
  if (type === 'number' || type === 'integer') {
    const spec: FieldSpec = {
      ...base,
      kind: 'number',
      integer: type === 'integer',
      initial: typeof s.default === 'number' ? String(s.default) : ''
    };
    if (typeof s.minimum === 'number') {
      spec.minimum = s.minimum;
    }
    if (typeof s.maximum === 'number') {
      spec.maximum = s.maximum;
    }
    return spec;
  }
  if (type === 'array' && s.items && SIMPLE_ITEMS.includes(s.items.type) && !COMPOSED.some(k => k in s.items)) {
    const initial = Array.isArray(s.default) ? s.default.join('\n') : '';
    return { ...base, kind: 'list', itemType: s.items.type, initial };
  }
  return json();
}

function number(spec: { label: string; integer: boolean }, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !isFinite(value)) {
    throw new FormError(`${spec.label}: "${text}" is not a number`);
  }
  if (spec.integer && !Number.isInteger(value)) {
    throw new FormError(`${spec.label}: "${text}" is not a whole number`);
  }
  return value;
}

/**
 * The JSON value of one leaf field from its raw entry (`undefined` = left
 * empty, so the key is not sent). Range checks are left to the server,
 * which names every violation at once.
 */
export function parse(spec: FieldSpec, raw: string | boolean): unknown {
  switch (spec.kind) {
    case 'fixed':
      return spec.value;
    case 'boolean':
      return raw === true;
    case 'choice': {
      const index = Number(raw);
      return raw === '' || index < 0 ? undefined : spec.options[index];
    }
    case 'number':
      return raw === '' ? undefined : number(spec, String(raw));
    case 'datetime': {
      if (raw === '') {
        return undefined;
      }
      const at = new Date(String(raw));
      if (isNaN(at.getTime())) {
        throw new FormError(`${spec.label}: "${raw}" is not a date and time`);
      }
      return at.toISOString().replace('.000Z', 'Z');
    }
    case 'list': {
      const entries = String(raw)
        .split('\n')
        .map(line => line.trim())
        .filter(line => line !== '');
      if (spec.itemType === 'string') {
        return entries;
      }
      return entries.map(entry => number({ label: spec.label, integer: spec.itemType === 'integer' }, entry));
    }
    case 'json': {
      const text = String(raw).trim();
      if (text === '') {
        return undefined;
      }
      try {
        return JSON.parse(text);
      } catch (error) {
        throw new FormError(`${spec.label}: not valid JSON (${(error as Error).message})`);
      }
    }
    case 'group':
      throw new FormError(`${spec.label}: a group has no single entry`);
    default:
      return raw === '' ? undefined : String(raw);
  }
}

/**
 * A group's answer from what its fields gave: an optional object nothing was entered in is left out
 * (undefined), so its required properties do not stand in the way; the top object is always sent.
 */
export function groupAnswer(spec: FieldSpec, entered: { [key: string]: unknown }, top: boolean): unknown {
  return !top && !spec.required && Object.keys(entered).length === 0 ? undefined : entered;
}

/** The top group's checkbox a Reject button clears, if the schema has one. */
export function rejectField(spec: FieldSpec): FieldSpec | undefined {
  if (spec.kind !== 'group') {
    return undefined;
  }
  for (const name of REJECT_FIELDS) {
    const field = spec.fields.find(f => f.name === name);
    if (field && field.kind === 'boolean') {
      return field;
    }
  }
  return undefined;
}
