// Unit tests of the form rules (lib/forms.js, compiled from src/forms.ts).
// The schemas are the ones the notebook widget's tests use, so both forms cover the same features.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { describe as fieldsOf, FormError, groupAnswer, parse, rejectField } from '../lib/forms.js';

const fixture = name => JSON.parse(readFileSync(new URL(`../../tests/fixtures/${name}`, import.meta.url)));
const EVERYTHING = fixture('every-schema-feature.json');
const TRADE = fixture('trade-approval-schema.json');

const byName = group => Object.fromEntries(group.fields.map(f => [f.name, f]));

test('every schema feature gets the right kind of input', () => {
  const form = fieldsOf(EVERYTHING, '', true);
  assert.equal(form.kind, 'group');
  const f = byName(form);
  assert.equal(f.name.kind, 'text');
  assert.equal(f.name.label, 'Your name *');
  assert.equal(f.name.description, 'Who decides');
  assert.deepEqual([f.approved.kind, f.approved.initial, f.approved.label], ['boolean', true, 'approved *']);
  assert.equal(f.notes.kind, 'textarea'); // format: textarea
  assert.equal(f.essay.kind, 'textarea'); // maxLength above 200
  assert.deepEqual([f.color.kind, f.color.options, f.color.initial], ['choice', ['red', 'green'], 1]);
  assert.deepEqual([f.day.kind, f.day.initial], ['date', '2026-12-01']);
  assert.equal(f.at.kind, 'datetime');
  assert.deepEqual([f.count.kind, f.count.integer, f.count.minimum, f.count.maximum, f.count.initial],
    ['number', true, 1, 5, '2']);
  assert.deepEqual([f.ratio.kind, f.ratio.integer, f.ratio.maximum, f.ratio.minimum], ['number', false, 1.5, undefined]);
  assert.deepEqual([f.tags.kind, f.tags.itemType, f.tags.initial], ['list', 'string', 'a']);
  assert.deepEqual([f.scores.kind, f.scores.itemType], ['list', 'integer']);
  assert.deepEqual([f.fixed.kind, f.fixed.value], ['fixed', 'v1']); // const
  assert.deepEqual([f.shown.kind, f.shown.value], ['fixed', 3]); // readOnly with a default
  assert.equal(f.nested.kind, 'group');
  assert.equal(f.nested.label, 'Nested group');
  assert.equal(f.nested.description, 'Inner settings');
  assert.equal(byName(f.nested).deep.kind, 'boolean');
  assert.equal(f.either.kind, 'json'); // oneOf: a JSON editor
});

test('what cannot be drawn becomes a JSON editor', () => {
  assert.equal(fieldsOf({ type: 'object' }).kind, 'json'); // an object with no properties
  assert.equal(fieldsOf({ type: 'array', items: { type: 'object' } }).kind, 'json');
  assert.equal(fieldsOf({ $ref: '#/definitions/x' }).kind, 'json');
  assert.equal(fieldsOf({ allOf: [{ type: 'string' }] }).kind, 'json');
  assert.equal(fieldsOf('not a schema').kind, 'json');
  assert.equal(fieldsOf({ type: 'array', items: { type: 'integer' }, default: [1, 2] }).initial, '1\n2');
  assert.equal(fieldsOf({ type: 'object', default: { a: 1 } }).initial, '{\n  "a": 1\n}');
});

test('entries become JSON values; empty entries are left out', () => {
  const f = byName(fieldsOf(EVERYTHING, '', true));
  assert.equal(parse(f.name, 'Ada'), 'Ada');
  assert.equal(parse(f.name, ''), undefined);
  assert.equal(parse(f.approved, true), true);
  assert.equal(parse(f.approved, false), false);
  assert.equal(parse(f.color, '0'), 'red');
  assert.equal(parse(f.color, ''), undefined);
  assert.equal(parse(f.day, '2026-12-24'), '2026-12-24');
  assert.equal(parse(f.count, '4'), 4);
  assert.equal(parse(f.count, ''), undefined);
  assert.equal(parse(f.ratio, '0.25'), 0.25);
  assert.deepEqual(parse(f.tags, 'a\n b \n\n'), ['a', 'b']);
  assert.deepEqual(parse(f.scores, '3\n4'), [3, 4]);
  assert.deepEqual(parse(f.scores, ''), []);
  assert.equal(parse(f.fixed, ''), 'v1');
  assert.equal(parse(f.either, ' 7 '), 7);
  assert.deepEqual(parse(f.either, '{"x": [1]}'), { x: [1] });
  assert.equal(parse(f.either, ''), undefined);
});

test('a local date and time is sent in UTC', () => {
  const f = byName(fieldsOf(EVERYTHING, '', true));
  const local = '2026-12-01T09:30';
  assert.equal(parse(f.at, local), new Date(local).toISOString().replace('.000Z', 'Z'));
  assert.match(parse(f.at, local), /^2026-12-0[12]T\d\d:30:00Z$/);
  // A default in UTC is shown as the same instant in local time.
  const shown = fieldsOf({ type: 'string', format: 'date-time', default: '2026-12-01T09:30:00Z' }).initial;
  assert.equal(new Date(shown).toISOString(), '2026-12-01T09:30:00.000Z');
});

test('bad entries are refused naming the field', () => {
  const f = byName(fieldsOf(EVERYTHING, '', true));
  assert.throws(() => parse(f.count, 'many'), err => err instanceof FormError && /count/.test(err.message));
  assert.throws(() => parse(f.count, '2.5'), /not a whole number/);
  assert.throws(() => parse(f.scores, '1\nx'), /"x" is not a number/);
  assert.throws(() => parse(f.either, '{not json'), /either: not valid JSON/);
  assert.throws(() => parse(f.at, 'yesterday'), /not a date and time/);
});

test('the trade approval form: fixed trade details, an approval box per trade, a Reject needs a top-level box', () => {
  const form = fieldsOf(TRADE, '', true);
  const f = byName(form);
  assert.deepEqual(Object.keys(f), ['trade_0', 'trade_1', 'notes']);
  assert.equal(f.trade_0.label, 'BUY 10 AAPL *');
  assert.equal(f.trade_0.description, 'Earnings beat expectations; guidance raised.');
  const trade = byName(f.trade_0);
  assert.deepEqual([trade.symbol.kind, trade.symbol.value], ['fixed', 'AAPL']);
  assert.deepEqual([trade.quantity.kind, trade.quantity.value], ['fixed', 10]);
  assert.deepEqual([trade.approved.kind, trade.approved.label, trade.approved.initial],
    ['boolean', 'Approve this trade *', false]);
  assert.equal(rejectField(form), undefined); // approvals are per trade, not one box
  const simple = fieldsOf({ type: 'object', properties: { approved: { type: 'boolean' }, why: { type: 'string' } } });
  assert.equal(rejectField(simple).name, 'approved');
  assert.equal(rejectField(fieldsOf({ type: 'object', properties: { approved: { type: 'string' } } })), undefined);
});

test('an optional object nothing was entered in is left out', () => {
  const schema = { type: 'object', required: ['go'], properties: {
    go: { type: 'string' },
    shipping: { type: 'object', required: ['street'], properties: { street: { type: 'string' } } } } };
  const form = fieldsOf(schema, '', true);
  const shipping = byName(form).shipping;
  assert.equal(groupAnswer(shipping, {}, false), undefined);
  assert.deepEqual(groupAnswer(shipping, { street: 'Main St 1' }, false), { street: 'Main St 1' });
  assert.deepEqual(groupAnswer(form, {}, true), {}); // the request's own object is always sent
});
