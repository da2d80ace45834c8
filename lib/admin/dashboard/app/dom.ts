import { localTime, usdExact, usdShort } from './format.js';

/** A tiny element builder: the dashboard is small enough that a framework would outweigh it. */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag: string, attrs: Attrs = {}, ...children: (Child | Child[])[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(el: Element, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    // Text nodes, never innerHTML: names and tags come from users' data.
    el.append(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** A local time, the exact UTC instant on hover and in `datetime`. */
export function time(iso: string | null): HTMLElement {
  return iso ? h('time', { datetime: iso, title: iso }, localTime(iso)) : h('span', {}, '–');
}

/** A rounded amount, the exact one on hover. */
export function money(value: string | null, attrs: Attrs = {}): HTMLElement {
  return h('span', { ...attrs, class: `money${attrs.class ? ` ${attrs.class}` : ''}`, title: usdExact(value) }, usdShort(value));
}

/** A table inside a box that scrolls sideways on a narrow screen instead of overflowing its card. */
export function table(attrs: Attrs, head: string[], rows: HTMLElement[], numeric: number[] = []): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', attrs, h('thead', {}, h('tr', {}, ...head.map((label, i) => h('th', numeric.includes(i) ? { class: 'num' } : {}, label)))), h('tbody', {}, ...rows)),
  );
}
