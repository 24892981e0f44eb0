/** Draws a `FieldSpec` tree as inputs and reads them back as one JSON value through `read` (forms.ts). */

import { h } from './dom';
import { Entries, FieldSpec, FormErrors, read } from './forms';

export interface DrawnForm {
  node: HTMLElement;
  /** The JSON value; throws FormErrors (each message is also shown beside its field). */
  read(): unknown;
  /**
   * Shows each problem (by path, as `read` reports them) beside its field, or beside the field that
   * holds that path (a JSON editor holds everything under it); returns those no field holds.
   */
  show(problems: [path: string, message: string][]): string[];
}

interface Drawn {
  node: HTMLElement;
  /** Adds what the field holds, by path. */
  collect(entries: Entries): void;
  /** Shows the field's message from `problems` (by path), or clears it. */
  show(problems: { [path: string]: string }): void;
}

function control(spec: FieldSpec): { input: HTMLElement; raw: () => string | boolean } {
  const name = spec.path || 'value';
  switch (spec.kind) {
    case 'boolean': {
      const input = h('input', { type: 'checkbox', name, checked: spec.initial });
      return { input, raw: () => input.checked };
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
      const shown = spec.hasValue ? h('code', {}, JSON.stringify(spec.value)) : h('i', {}, 'not set');
      return { input: shown, raw: () => '' };
    }
    default: {
      const type = spec.kind === 'date' ? 'date' : spec.kind === 'datetime' ? 'datetime-local' : 'text';
      const input = h('input', { type, name, value: (spec as { initial: string }).initial });
      return { input, raw: () => input.value };
    }
  }
}

function drawNode(spec: FieldSpec, top: boolean): Drawn {
  const help = spec.description ? h('div', { className: 'jp-OpenSink-help' }, spec.description) : null;
  if (spec.kind === 'group') {
    const children = spec.fields.map(field => drawNode(field, false));
    const node = h(
      top ? 'div' : 'fieldset',
      { className: 'jp-OpenSink-group', 'data-field': spec.name || undefined },
      !top && spec.label ? h('legend', {}, spec.label) : null,
      !top ? help : null,
      children.map(c => c.node)
    );
    return {
      node,
      collect: entries => children.forEach(c => c.collect(entries)),
      show: problems => children.forEach(c => c.show(problems))
    };
  }
  const { input, raw } = control(spec);
  const problem = h('div', { className: 'jp-OpenSink-problem', role: 'alert', hidden: true });
  const node = h(
    'label',
    { className: `jp-OpenSink-field jp-OpenSink-${spec.kind}`, 'data-field': spec.name || undefined },
    h('span', { className: 'jp-OpenSink-label' }, spec.label),
    input,
    help,
    problem
  );
  return {
    node,
    collect: entries => {
      entries[spec.path] = raw();
    },
    show: problems => {
      problem.textContent = problems[spec.path] ?? '';
      problem.hidden = !(spec.path in problems);
    }
  };
}

function leafPaths(spec: FieldSpec): string[] {
  return spec.kind === 'group' ? spec.fields.flatMap(leafPaths) : [spec.path];
}

/** The field whose control holds `path`: itself, else the deepest field it lies under. */
function holder(fields: string[], path: string): string | undefined {
  const under = fields.filter(field => field === path || field === '' || path.startsWith(`${field}/`));
  return under.sort((a, b) => b.length - a.length)[0];
}

/** The drawn form for `spec`; `top` leaves the request's own object unboxed. */
export function draw(spec: FieldSpec, top = false): DrawnForm {
  const drawn = drawNode(spec, top);
  return {
    node: drawn.node,
    read: () => {
      const entries: Entries = {};
      drawn.collect(entries);
      try {
        const value = read(spec, entries);
        drawn.show({});
        return value;
      } catch (error) {
        if (error instanceof FormErrors) {
          drawn.show(error.problems);
        }
        throw error;
      }
    },
    show: problems => {
      const fields = leafPaths(spec);
      const beside: { [path: string]: string } = Object.create(null); // a path is never a prototype's key
      const unplaced: string[] = [];
      for (const [path, message] of problems) {
        const field = holder(fields, path);
        if (field === undefined) {
          unplaced.push(message);
        } else {
          beside[field] = field in beside ? `${beside[field]}; ${message}` : message;
        }
      }
      drawn.show(beside);
      return unplaced;
    }
  };
}
