/** A collapsible JSON viewer: objects and arrays fold, leaves show typed values. */

import { h } from './dom';

function leaf(value: unknown): HTMLElement {
  const type = value === null ? 'null' : typeof value;
  return h('span', { className: `jp-OpenSink-json-${type}` }, JSON.stringify(value));
}

export function jsonView(value: unknown, name?: string, open = true): HTMLElement {
  const key = name !== undefined ? h('span', { className: 'jp-OpenSink-json-key' }, `${name}: `) : null;
  if (value === null || typeof value !== 'object') {
    return h('div', { className: 'jp-OpenSink-json-row' }, key, leaf(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  const summary = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  if (!entries.length) {
    return h('div', { className: 'jp-OpenSink-json-row' }, key, h('span', {}, Array.isArray(value) ? '[]' : '{}'));
  }
  return h(
    'details',
    { className: 'jp-OpenSink-json', open },
    h('summary', {}, key, summary),
    entries.map(([k, v]) => jsonView(v, k, false))
  );
}
