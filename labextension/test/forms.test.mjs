// The form rules' port (lib/forms.js, compiled from src/forms.ts) held to the Python form engine by the
// shared, language-neutral case table tests/fixtures/form-cases.json (pytest runs the same table through
// jupyter_opensink/forms and the notebook widget), plus the port's own unit tests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { describe as fieldsOf, FormError, FormErrors, proposed, read } from '../lib/forms.js';

const fixture = name => JSON.parse(readFileSync(new URL(`../../tests/fixtures/${name}`, import.meta.url)));
const TABLE = fixture('form-cases.json');
const EVERYTHING = fixture('every-schema-feature.json');
const TRADE = fixture('trade-approval-schema.json');

/** The schema every surface draws for a case: with the case's `defaults` (a request's proposal) filled in. */
const drawn = c => ('defaults' in c ? proposed(c.schema, c.defaults) : c.schema);

const byName = group => Object.fromEntries(group.fields.map(f => [f.name, f]));

/** The person's time zone for a case: the date-time rules read and show local time. */
function inZone(zone, run) {
  const before = process.env.TZ;
  process.env.TZ = zone ?? 'UTC';
  try {
    return run();
  } finally {
    process.env.TZ = before;
  }
}

/** A field in the table's language-neutral shape (see the table's description). */
function neutral(spec) {
  const node = { key: spec.name, kind: spec.kind, label: spec.label, required: spec.required };
  if (spec.description !== undefined) {
    node.description = spec.description;
  }
  if (spec.kind === 'group') {
    node.fields = spec.fields.map(neutral);
  } else if (spec.kind === 'fixed') {
    if (spec.hasValue) {
      node.value = spec.value;
    }
  } else if (spec.kind === 'choice') {
    Object.assign(node, { options: spec.options, initial: spec.initial >= 0 ? spec.initial : null });
  } else {
    node.initial = spec.initial;
  }
  if (spec.kind === 'number') {
    node.integer = spec.integer;
    for (const bound of ['minimum', 'maximum']) {
      if (spec[bound] !== undefined) {
        node[bound] = spec[bound];
      }
    }
  }
  if (spec.kind === 'list') {
    node.itemType = spec.itemType;
  }
  return node;
}

function leaves(spec) {
  return spec.kind === 'group' ? spec.fields.flatMap(leaves) : [spec];
}

/** What the drawn form holds: every field's first content, with the person's entries over it. */
function held(spec, entries) {
  const out = {};
  for (const field of leaves(spec)) {
    const first = field.kind === 'choice' ? (field.initial >= 0 ? String(field.initial) : '') : field.initial;
    out[field.path] = field.path in entries ? entries[field.path] : first;
  }
  return out;
}

function assertProblems(got, expected) {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort(), JSON.stringify(got));
  for (const [path, message] of Object.entries(expected)) {
    // a JSON editor's message may go on with the parser's own detail
    assert.ok(got[path] === message || got[path].startsWith(`${message} (`), `${path}: ${got[path]}`);
  }
}

test('the shared case table: every case describes the same fields', async t => {
  for (const c of TABLE.cases) {
    await t.test(c.description, () =>
      inZone(c.zone, () => {
        const spec = fieldsOf(drawn(c), '', true);
        if (c.top) {
          assert.deepEqual(neutral(spec), c.top);
        } else {
          assert.equal(spec.kind, 'group');
          assert.deepEqual(spec.fields.map(neutral), c.fields);
        }
      })
    );
  }
});

test('the shared case table: what the person enters becomes the same JSON or the same problems', async t => {
  for (const c of TABLE.cases) {
    for (const one of c.tests) {
      await t.test(`${c.description} / ${one.description}`, () =>
        inZone(c.zone, () => {
          const spec = fieldsOf(drawn(c), '', true);
          const entries = held(spec, one.entries);
          if ('json' in one) {
            assert.deepEqual(read(spec, entries), one.json);
          } else {
            assert.throws(
              () => read(spec, entries),
              error => {
                assert.ok(error instanceof FormErrors);
                assertProblems(error.problems, one.problems);
                return true;
              }
            );
          }
        })
      );
    }
  }
});

test('the table starts with every schema feature', () => {
  assert.deepEqual(TABLE.cases[0].schema, EVERYTHING);
  const kinds = new Set(TABLE.cases.flatMap(c => leaves(fieldsOf(drawn(c), '', true)).map(f => f.kind)));
  assert.deepEqual([...kinds].sort(), ['boolean', 'choice', 'date', 'datetime', 'fixed', 'json', 'list', 'number', 'text', 'textarea']);
});

test('what cannot be drawn becomes a JSON editor', () => {
  assert.equal(fieldsOf({ type: 'object' }).kind, 'json'); // an object with no properties
  assert.equal(fieldsOf({ type: 'object', properties: [] }).kind, 'json');
  assert.equal(fieldsOf({ type: 'array', items: { type: 'object' } }).kind, 'json');
  assert.equal(fieldsOf({ type: 'array', items: { $ref: '#/definitions/x' } }).kind, 'json');
  assert.equal(fieldsOf({ $ref: '#/definitions/x' }).kind, 'json');
  assert.equal(fieldsOf({ allOf: [{ type: 'string' }] }).kind, 'json');
  assert.equal(fieldsOf('not a schema').kind, 'json');
  assert.equal(fieldsOf({ type: 'array', items: { type: 'integer' }, default: [1, 2] }).initial, '1\n2');
  assert.equal(fieldsOf({ type: 'object', default: { a: 1 } }).initial, '{\n  "a": 1\n}');
});

test('a bounded number starts empty, and a required one left empty blocks the submit', () => {
  const form = fieldsOf({ type: 'object', required: ['quantity'], properties: {
    quantity: { type: 'integer', minimum: 1, maximum: 100 } } }, '', true);
  const quantity = byName(form).quantity;
  assert.equal(quantity.initial, '');
  assert.throws(() => read(form, { quantity: '' }), err => err instanceof FormError && err.message === 'quantity: required');
  assert.deepEqual(read(form, { quantity: '7' }), { quantity: 7 });
});

test('a local date and time is sent in UTC in any zone', () => {
  const spec = fieldsOf({ type: 'string', format: 'date-time' }, 'at');
  for (const [zone, sent] of [['Asia/Kolkata', '2026-12-01T04:00:00Z'], ['Pacific/Auckland', '2026-11-30T20:30:00Z']]) {
    assert.equal(inZone(zone, () => read(spec, { '': '2026-12-01T09:30' })), sent);
  }
  const shown = inZone('Asia/Kolkata', () => fieldsOf({ type: 'string', format: 'date-time', default: '2026-12-01T04:00:00Z' }).initial);
  assert.equal(shown, '2026-12-01T09:30');
});

test('the trade approval form: fixed trade details, an approval box per trade', () => {
  const form = fieldsOf(TRADE, '', true);
  const f = byName(form);
  assert.deepEqual(Object.keys(f), ['trade_0', 'trade_1', 'notes']);
  assert.equal(f.trade_0.label, 'BUY 10 AAPL *');
  assert.equal(f.trade_0.description, 'Earnings beat expectations; guidance raised.');
  const trade = byName(f.trade_0);
  assert.deepEqual([trade.symbol.kind, trade.symbol.value], ['fixed', 'AAPL']);
  assert.deepEqual([trade.quantity.kind, trade.quantity.value], ['fixed', 10]);
  assert.deepEqual([trade.approved.kind, trade.approved.label, trade.approved.initial, trade.approved.path],
    ['boolean', 'Approve this trade *', false, 'trade_0/approved']);
  assert.deepEqual(read(form, { 'trade_0/approved': true, notes: 'go' }), {
    trade_0: { symbol: 'AAPL', action: 'buy', quantity: 10, approved: true },
    trade_1: { symbol: 'BTC', action: 'sell', quantity: 3, approved: false }, notes: 'go' });
});

test('a proposal fills the form without changing the schema; what it leaves out keeps the schema default', () => {
  const schema = JSON.parse(`{"type": "object", "properties": {
    "side": {"type": "string", "enum": ["buy", "sell"], "default": "buy"},
    "order": {"type": "object", "properties": {"tif": {"type": "string"}}},
    "extra": {"type": "object"},
    "__proto__": {"type": "string"}}}`);
  const before = JSON.stringify(schema);
  const filled = proposed(schema, JSON.parse('{"order": {"tif": "day"}, "extra": {"a": 1}, "__proto__": "x", "toString": 1}'));
  assert.equal(JSON.stringify(schema), before);
  assert.deepEqual(Object.keys(filled.properties), Object.keys(schema.properties));
  assert.equal(filled.properties.side.default, 'buy');
  assert.equal(filled.properties.order.properties.tif.default, 'day');
  assert.deepEqual(filled.properties.extra.default, { a: 1 }); // no properties to fill: the whole value
  assert.equal(Object.getOwnPropertyDescriptor(filled.properties, '__proto__').value.default, 'x'); // a property
  assert.equal(proposed(schema, null), schema);
  assert.deepEqual(proposed({ type: 'array' }, { a: 1 }), { type: 'array', default: { a: 1 } });
});
