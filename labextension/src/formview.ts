/** Draws a `FieldSpec` tree as inputs and reads them back as one JSON value. */

import { h } from './dom';
import { FieldSpec, groupAnswer, parse } from './forms';

export interface DrawnField {
  node: HTMLElement;
  /** The value, or undefined when left empty; throws FormError on a bad entry. */
  read(): unknown;
  /** Sets a checkbox (used by Reject); other kinds ignore it. */
  set?(value: boolean): void;
}

function control(spec: FieldSpec): { input: HTMLElement; raw: () => string | boolean; set?: (v: boolean) => void } {
  const name = spec.name || 'value';
  switch (spec.kind) {
    case 'boolean': {
      const input = h('input', { type: 'checkbox', name, checked: spec.initial });
      return { input, raw: () => input.checked, set: v => (input.checked = v) };
    }
    case 'choice': {
      const select = h(
        'select',
        { name },
        h('option', { value: '' }, '—'),
        spec.options.map((option, i) => h('option', { value: String(i) }, String(option)))
      );
      select.value = spec.initial >= 0 ? String(spec.initial) : '';
      return { input: select, raw: () => select.value };
    }
    case 'number': {
      const input = h('input', {
        type: 'number',
        name,
        value: spec.initial,
        step: spec.integer ? '1' : 'any',
        min: spec.minimum !== undefined ? String(spec.minimum) : undefined,
        max: spec.maximum !== undefined ? String(spec.maximum) : undefined
      });
      return { input, raw: () => input.value };
    }
    case 'textarea':
    case 'list':
    case 'json': {
      const placeholder = spec.kind === 'list' ? 'one entry per line' : spec.kind === 'json' ? 'JSON' : '';
      const area = h('textarea', { name, rows: spec.kind === 'textarea' ? 3 : 4, placeholder });
      area.value = spec.initial;
      return { input: area, raw: () => area.value };
    }
    case 'fixed': {
      const shown = h('code', {}, JSON.stringify(spec.value));
      return { input: shown, raw: () => '' };
    }
    default: {
      const type = spec.kind === 'date' ? 'date' : spec.kind === 'datetime' ? 'datetime-local' : 'text';
      const input = h('input', { type, name, value: (spec as { initial: string }).initial });
      return { input, raw: () => input.value };
    }
  }
}

/** The drawn form for `spec`; `top` leaves the request's own object unboxed. */
export function draw(spec: FieldSpec, top = false): DrawnField {
  const help = spec.description ? h('div', { className: 'jp-OpenSink-help' }, spec.description) : null;
  if (spec.kind === 'group') {
    const children = spec.fields.map(field => ({ field, drawn: draw(field) }));
    const node = h(
      top ? 'div' : 'fieldset',
      { className: 'jp-OpenSink-group', 'data-field': spec.name || undefined },
      !top && spec.label ? h('legend', {}, spec.label) : null,
      !top ? help : null,
      children.map(c => c.drawn.node)
    );
    return {
      node,
      read: () => {
        const out: { [key: string]: unknown } = {};
        for (const { field, drawn } of children) {
          const value = drawn.read();
          if (value !== undefined) {
            out[field.name] = value;
          }
        }
        return groupAnswer(spec, out, top);
      }
    };
  }
  const { input, raw, set } = control(spec);
  const node = h(
    'label',
    { className: `jp-OpenSink-field jp-OpenSink-${spec.kind}`, 'data-field': spec.name || undefined },
    h('span', { className: 'jp-OpenSink-label' }, spec.label),
    input,
    help
  );
  return { node, read: () => parse(spec, raw()), set };
}
