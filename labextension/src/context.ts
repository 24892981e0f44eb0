/**
 * A request's context (the evidence an agent shows beside its question) drawn as notebook outputs are:
 * each item is a MIME bundle, shown by JupyterLab's own renderers when the app provides them.
 *
 * The bundle comes from an agent, not from the person, so it is drawn as an output of a notebook the
 * person has not trusted: HTML and Markdown go through the app's sanitizer, and no script in them ever
 * runs. An SVG is shown as an image (an `<img>` never runs the scripts an SVG may hold), which is how
 * JupyterLab draws a trusted SVG; its own SVG renderer refuses untrusted ones outright. A Vega-Lite chart
 * is drawn only when it evaluates and loads nothing (`vegalite.ts`); otherwise its fallback type shows.
 */

import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { h } from './dom';
import { withoutActiveChart } from './vegalite';

export type Bundle = { [mime: string]: unknown };

export interface ContextItem {
  title?: string;
  data: Bundle;
}

const SVG = 'image/svg+xml';
const IMAGES = ['image/png', 'image/jpeg'];

/** A drawn context: its node, and `dispose` to release the renderers once the card is gone. */
export interface DrawnContext {
  node: HTMLElement;
  dispose(): void;
}

function isItem(value: unknown): value is ContextItem {
  const data = (value as ContextItem | null)?.data;
  return !!data && typeof data === 'object' && !Array.isArray(data);
}

/** An image as a data URL (base64 may be wrapped over lines, as Jupyter writes it). */
function imageUrl(mime: string, value: unknown): string {
  const text = typeof value === 'string' ? value : '';
  return mime === SVG ? `data:${SVG};charset=utf-8,${encodeURIComponent(text)}` : `data:${mime};base64,${text.replace(/\s/g, '')}`;
}

function image(mime: string, value: unknown, title: string | undefined): HTMLImageElement {
  return h('img', { className: 'jp-OpenSink-context-image', src: imageUrl(mime, value), alt: title ?? mime });
}

/** The bundle as text, for a surface without renderers: its plain text, else its source shown as text. */
function asText(data: Bundle): HTMLElement {
  for (const mime of ['text/plain', 'text/markdown', 'application/json', 'application/vnd.vegalite.v5+json', 'text/html']) {
    if (mime in data) {
      const value = data[mime];
      return h('pre', { className: 'jp-OpenSink-context-text' }, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
    }
  }
  return h('pre', { className: 'jp-OpenSink-context-text' }, `(${Object.keys(data).join(', ')})`);
}

/**
 * The richest type of `data` the registry renders safely: its safe renderers' choice, or the SVG
 * (drawn as an image) when that ranks higher. Undefined when nothing in the bundle can be drawn.
 */
export function safestRichest(registry: IRenderMimeRegistry, data: Bundle): string | undefined {
  const safe = registry.preferredMimeType(data as ReadonlyPartialJSONObject, 'ensure');
  if (!(SVG in data)) {
    return safe;
  }
  const rank = (mime: string | undefined) => (mime === undefined ? Infinity : registry.getRank(mime) ?? Infinity);
  return rank(SVG) < rank(safe) ? SVG : safe;
}

/** One item's body, and the renderer to dispose with it (if one was made). */
function drawBody(item: ContextItem, registry: IRenderMimeRegistry | null): [HTMLElement, { dispose(): void } | null] {
  const data = withoutActiveChart(item.data);
  if (!registry) {
    const picture = [...IMAGES, SVG].find(mime => mime in data);
    return [picture ? image(picture, data[picture], item.title) : asText(item.data), null];
  }
  const mime = safestRichest(registry, data);
  if (mime === undefined) {
    return [asText(item.data), null];
  }
  if (mime === SVG) {
    return [image(SVG, data[SVG], item.title), null];
  }
  const renderer = registry.createRenderer(mime);
  const model = new MimeModel({ data: data as ReadonlyPartialJSONObject, trusted: false });
  renderer.renderModel(model).catch(error => {
    renderer.node.replaceChildren(h('div', { className: 'jp-OpenSink-error' }, `This ${mime} cannot be shown: ${error}`));
  });
  return [renderer.node, renderer];
}

/** The context items of a request, each under its title; null when there are none. */
export function drawContext(context: unknown, registry: IRenderMimeRegistry | null): DrawnContext | null {
  const items = Array.isArray(context) ? context.filter(isItem) : [];
  if (!items.length) {
    return null;
  }
  const renderers: { dispose(): void }[] = [];
  const sections = items.map(item => {
    const [body, renderer] = drawBody(item, registry);
    if (renderer) {
      renderers.push(renderer);
    }
    return h(
      'section',
      { className: 'jp-OpenSink-context-item' },
      item.title ? h('h4', { className: 'jp-OpenSink-context-title' }, item.title) : null,
      h('div', { className: 'jp-OpenSink-context-body' }, body)
    );
  });
  return {
    node: h('div', { className: 'jp-OpenSink-context', 'aria-label': 'Context' }, sections),
    dispose: () => renderers.forEach(r => r.dispose())
  };
}
