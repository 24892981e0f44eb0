/** A small element builder: the panels are plain DOM, redrawn from data. */

export type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: { [key: string]: any } = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'className') {
      node.className = value;
    } else if (key in node && typeof value !== 'string') {
      (node as any)[key] = value;
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child);
    }
  }
  return node;
}

const MOMENT = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'short'
});

/**
 * A timestamp as the reader's local time with its zone, written as every surface writes one
 * (`7 Dec 2026, 14:05 CET`: the notebook widget and the approval page, which says UTC, alike).
 */
export function when(iso: string | null | undefined): string {
  if (!iso) {
    return '—';
  }
  const at = new Date(iso);
  if (isNaN(at.getTime())) {
    return iso;
  }
  const part = (type: string): string => MOMENT.formatToParts(at).find(p => p.type === type)?.value ?? '';
  return `${part('day')} ${part('month')} ${part('year')}, ${part('hour')}:${part('minute')} ${part('timeZoneName')}`;
}
