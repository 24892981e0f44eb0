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

/** A timestamp as the reader's local time, to the second. */
export function when(iso: string | null | undefined): string {
  if (!iso) {
    return '—';
  }
  const at = new Date(iso);
  return isNaN(at.getTime()) ? iso : at.toLocaleString();
}
