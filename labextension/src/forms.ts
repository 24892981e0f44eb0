/**
 * JSON Schema -> a tree of field descriptions, and what a person entered -> a JSON value.
 *
 * A port of the Python form engine (`jupyter_opensink/forms/engine.py`), which the notebook
 * widget and the approval page use: both are held to the same answers by the language-neutral
 * case table `tests/fixtures/form-cases.json` (run by pytest and by `test/forms.test.mjs`).
 * Kept free of the DOM so it runs in Node; `formview.ts` draws the tree. What the form cannot
 * draw (oneOf, $ref, arrays of objects...) becomes a JSON editor.
 */

/** A JSON Schema, read loosely: any keyword may be missing. */
export type Schema = { [key: string]: any };

/** maxLength above which a string gets a text area. */
export const LONG_TEXT = 200;

const COMPOSED = ['oneOf', 'anyOf', 'allOf', '$ref', 'not'];
const SIMPLE_ITEMS = ['string', 'number', 'integer'];
/** A number as a person types it: JSON's digits and exponent (also a leading "+" or "."), nothing else. */
const NUMBER = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
/** A date and time as entered: a wall time with an optional offset (without one, the person's zone). */
const MOMENT = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?$/;
/** Kinds whose control can be left empty (so, when required, must not be). */
const CAN_BE_EMPTY = ['choice', 'date', 'datetime', 'text', 'textarea', 'number', 'json'];

interface Base {
  /** The property it fills ('' at the top). */
  name: string;
  /** The property names from the top, joined by '/' (where a schema violation points). */
  path: string;
  /** What the person reads: the schema's string title, or the property name. */
  title: string;
  /** The title with the required marker. */
  label: string;
  required: boolean;
  description?: string;
}

export type FieldSpec =
  | (Base & { kind: 'fixed'; value: unknown; hasValue: boolean })
  | (Base & { kind: 'group'; fields: FieldSpec[] })
  | (Base & { kind: 'boolean'; initial: boolean })
  | (Base & { kind: 'choice'; options: unknown[]; initial: number })
  | (Base & { kind: 'date' | 'text' | 'textarea'; initial: string })
  | (Base & { kind: 'datetime'; initial: string; value?: string })
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

/** Every unusable or missing entry of a form: `problems` maps a field's path to what is wrong. */
export class FormErrors extends FormError {
  constructor(readonly problems: { [path: string]: string }) {
    super(Object.values(problems).join('; '));
  }
}

/** What a surface holds per field, by path: the text, or for a checkbox whether it is ticked. */
export type Entries = { [path: string]: string | boolean | undefined };

function isObject(value: unknown): value is Schema {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

function numberText(value: unknown): string {
  return typeof value === 'number' && isFinite(value) ? String(value) : '';
}

function entryText(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? numberText(value) : JSON.stringify(value);
}

/** `text` as a Date; a wall time without an offset is local (the person's zone); null if it is none. */
function moment(text: string): Date | null {
  const trimmed = text.trim();
  if (!MOMENT.test(trimmed)) {
    return null;
  }
  const at = new Date(trimmed);
  return isNaN(at.getTime()) ? null : at;
}

/** A date-time default as a Date: without an offset it is UTC; null if it is no date and time. */
function defaultMoment(value: string): Date | null {
  const trimmed = value.trim();
  return !trimmed ? null : /(?:Z|[+-][0-9]{2}:[0-9]{2})$/.test(trimmed) ? moment(trimmed) : moment(`${trimmed}Z`);
}

function utc(at: Date): string {
  return at.toISOString().replace(/\.[0-9]+Z$/, 'Z');
}

/**
 * A date-time default as a datetime-local input holds it: the local wall time, seconds only when
 * there are some (so an untouched default is sent back unchanged). A default without an offset is
 * UTC; one that is not a date and time is not shown.
 */
export function wallTime(value: string): string {
  const at = defaultMoment(value);
  if (!at) {
    return '';
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  const seconds = at.getSeconds() ? `:${pad(at.getSeconds())}` : '';
  return (
    `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}` +
    `T${pad(at.getHours())}:${pad(at.getMinutes())}${seconds}`
  );
}

/**
 * `schema` with what the agent proposes (a request's `defaults`) as each field's `default`, so the
 * form opens filled with the proposal and "approve as proposed" sends it unchanged. A property the
 * proposal leaves out keeps the schema's own default (or none); `schema` itself is not changed.
 */
export function proposed(schema: unknown, defaults: unknown): unknown {
  if (!isObject(schema) || !isObject(defaults)) {
    return schema;
  }
  if (!isObject(schema.properties)) {
    return { ...schema, default: defaults };
  }
  // Built from entries (never by assignment), so a property named "__proto__" stays a property.
  const filled = Object.entries(schema.properties).map(([key, sub]): [string, unknown] => {
    if (!Object.prototype.hasOwnProperty.call(defaults, key) || !isObject(sub)) {
      return [key, sub];
    }
    const value = defaults[key];
    return [key, isObject(value) && isObject(sub.properties) ? proposed(sub, value) : { ...sub, default: value }];
  });
  return { ...schema, properties: Object.fromEntries(filled) };
}

/** The field tree for `schema`; the request's own object is described as required. */
export function describe(schema: unknown, name = '', required = false, path = ''): FieldSpec {
  const s: Schema = isObject(schema) ? schema : {};
  const title = typeof s.title === 'string' && s.title ? s.title : name;
  const base: Base = { name, path, title, label: required ? `${title} *` : title, required };
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
  if ('const' in s) {
    return { ...base, kind: 'fixed', value: s.const, hasValue: true };
  }
  if (s.readOnly === true) {
    // No value to send: left out of the answer (null would break its type).
    return { ...base, kind: 'fixed', value: s.default, hasValue: 'default' in s };
  }
  const type = s.type;
  if (type === 'object' || (type === undefined && 'properties' in s)) {
    if (!isObject(s.properties)) {
      return json();
    }
    const needed = new Set(Array.isArray(s.required) ? s.required : []);
    const fields = Object.entries(s.properties).map(([key, sub]) =>
      describe(sub, key, needed.has(key), path ? `${path}/${key}` : key)
    );
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
      const at = defaultMoment(initial);
      return at ? { ...base, kind: 'datetime', initial: wallTime(initial), value: utc(at) } : { ...base, kind: 'datetime', initial: '' };
    }
    const long = s.format === 'textarea' || (Number.isInteger(s.maxLength) && s.maxLength > LONG_TEXT);
    return { ...base, kind: long ? 'textarea' : 'text', initial };
  }
  if (type === 'number' || type === 'integer') {
    const spec: FieldSpec = { ...base, kind: 'number', integer: type === 'integer', initial: numberText(s.default) };
    if (typeof s.minimum === 'number') {
      spec.minimum = s.minimum;
    }
    if (typeof s.maximum === 'number') {
      spec.maximum = s.maximum;
    }
    return spec;
  }
  const items = s.items;
  if (type === 'array' && isObject(items) && SIMPLE_ITEMS.includes(items.type) && !COMPOSED.some(k => k in items)) {
    const initial = Array.isArray(s.default) ? s.default.map(entryText).join('\n') : '';
    return { ...base, kind: 'list', itemType: items.type, initial };
  }
  return json();
}

/** Whether every number in `value` is finite (JSON.parse reads 1e999 as Infinity). */
function finite(value: unknown): boolean {
  if (typeof value === 'number') {
    return isFinite(value);
  }
  return value !== null && typeof value === 'object' ? Object.values(value).every(finite) : true;
}

function number(integer: boolean, text: string): number {
  const value = NUMBER.test(text.trim()) ? Number(text) : NaN;
  if (!isFinite(value)) {
    throw new FormError(`"${text}" is not a number`);
  }
  if (integer && !Number.isInteger(value)) {
    throw new FormError(`"${text}" is not a whole number`);
  }
  return value;
}

/** The JSON value of one leaf from its entry (`undefined`: left empty, so the key is not sent). */
function leaf(spec: FieldSpec, raw: string | boolean | undefined): unknown {
  const text = typeof raw === 'string' ? raw : '';
  switch (spec.kind) {
    case 'fixed':
      return spec.hasValue ? spec.value : undefined;
    case 'boolean':
      return raw === true;
    case 'choice':
      if (text === '') {
        return undefined;
      }
      if (!/^[0-9]+$/.test(text) || Number(text) >= spec.options.length) {
        throw new FormError('pick one of the choices');
      }
      return spec.options[Number(text)];
    case 'group':
      throw new FormError('a group has no single entry');
    default:
  }
  if (text.trim() === '' && !['text', 'textarea', 'list'].includes(spec.kind)) {
    return undefined;
  }
  switch (spec.kind) {
    case 'number':
      return number(spec.integer, text);
    case 'datetime': {
      if (spec.value && text.trim() === spec.initial) {
        return spec.value; // the default, untouched: the same instant
      }
      const at = moment(text);
      if (!at) {
        throw new FormError(`"${text}" is not a date and time`);
      }
      return utc(at);
    }
    case 'list': {
      const entries = text
        .split(/\r\n|\r|\n/)
        .map(line => line.trim())
        .filter(line => line !== '');
      return spec.itemType === 'string' ? entries : entries.map(entry => number(spec.itemType === 'integer', entry));
    }
    case 'json': {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw new FormError(`not valid JSON (${(error as Error).message})`);
      }
      if (!finite(value)) {
        throw new FormError('not valid JSON (a number is too large)'); // it would be sent as null
      }
      return value;
    }
    default:
      return text === '' ? undefined : text; // text, textarea, date
  }
}

/** Whether the person filled `spec` in: a fixed value is no entry; unticking a box ticked by default is one. */
function entered(spec: FieldSpec, raw: string | boolean | undefined): boolean {
  if (spec.kind === 'fixed') {
    return false;
  }
  if (spec.kind === 'boolean') {
    return raw === true || spec.initial;
  }
  return typeof raw === 'string' && raw.trim() !== '';
}

/**
 * The JSON value of `entries` (by path); throws `FormErrors`. A form sends only what the person
 * chose: an empty field is left out, and a required one left empty blocks the submit. An optional
 * object nothing was entered in is left out (sending {} would break its required properties); the
 * request's own object (described as required) is always sent, {} at least. A date and time without
 * an offset is local time and is sent in UTC.
 */
export function read(spec: FieldSpec, entries: Entries): unknown {
  const problems: { [path: string]: string } = {};
  const emptyButRequired = (node: FieldSpec, got: unknown) => {
    if (got === undefined && node.required && CAN_BE_EMPTY.includes(node.kind) && !(node.path in problems)) {
      problems[node.path] = `${node.title}: required`;
    }
  };
  const valueOf = (node: FieldSpec): [unknown, boolean] => {
    if (node.kind === 'group') {
      const out: { [key: string]: unknown } = {};
      const results: [FieldSpec, unknown][] = [];
      let any = false;
      for (const sub of node.fields) {
        const [got, filled] = valueOf(sub);
        any = any || filled;
        results.push([sub, got]);
        if (got !== undefined) {
          out[sub.name] = got;
        }
      }
      if (!(any || node.required)) {
        return [undefined, false];
      }
      results.forEach(([sub, got]) => emptyButRequired(sub, got));
      return [out, any];
    }
    try {
      return [leaf(node, entries[node.path]), entered(node, entries[node.path])];
    } catch (error) {
      problems[node.path] = `${node.title}: ${(error as Error).message}`;
      return [undefined, true];
    }
  };
  let [value] = valueOf(spec);
  if (value === undefined && spec.kind === 'json' && spec.required) {
    value = {}; // the request's own object drawn as a JSON editor: like a group, always sent
  }
  emptyButRequired(spec, value);
  if (Object.keys(problems).length) {
    throw new FormErrors(problems);
  }
  return value;
}
