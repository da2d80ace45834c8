/**
 * Which methods to track, as a tree of property paths: `{ chat: { completions: { create: fn } } }`.
 * A leaf gets the SDK's own method (bound to the real object) and returns the tracked method.
 */
export interface TrackTree {
  [prop: string]: TrackTree | TrackLeaf;
}

export type TrackLeaf = (original: (...args: unknown[]) => unknown, owner: object) => (...args: unknown[]) => unknown;

export const RAW = Symbol.for('kostrack.rawClient');

/**
 * A leaf for an SDK helper built on other members of its object (`parse`, `stream`, `runTools`,
 * `chats.create`): the helper runs as the SDK's own code, on a view of the real object whose
 * `overrides` (a tracked `create`, the wrapped client) it reaches through `this`, so the calls it
 * makes are tracked once, like any other.
 */
export function onView(name: string, overrides: (owner: object) => PropertyDescriptorMap): TrackLeaf {
  return (_original, owner) =>
    function helper(...args: unknown[]) {
      return (owner as Record<string, (...a: unknown[]) => unknown>)[name].apply(Object.create(owner, overrides(owner)), args);
    };
}

/**
 * A Proxy over an SDK object that swaps the tracked methods and passes everything else through.
 * The Proxy keeps the client's type, prototype (`instanceof` holds) and property writes. Untracked
 * methods are bound to the real object, because SDK classes keep `#private` fields that a Proxy
 * receiver cannot reach. Everything is cached, so repeated access costs a Map lookup.
 */
export function proxyClient<T extends object>(target: T, tree: TrackTree): T {
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(obj, prop) {
      if (prop === RAW) return obj;
      const value = Reflect.get(obj, prop, obj) as unknown;
      const hit = cache.get(prop);
      if (hit !== undefined && (hit as { source?: unknown }).source === value) return (hit as { wrapped: unknown }).wrapped;
      let wrapped: unknown = value;
      const node = typeof prop === 'string' && Object.hasOwn(tree, prop) ? tree[prop] : undefined;
      if (typeof node === 'function' && typeof value === 'function') wrapped = node(value.bind(obj) as (...args: unknown[]) => unknown, obj);
      else if (node && typeof node === 'object' && value !== null && typeof value === 'object') wrapped = proxyClient(value as object, node);
      else if (typeof value === 'function' && !isClass(value)) wrapped = value.bind(obj);
      else return value;
      cache.set(prop, { source: value, wrapped });
      return wrapped;
    },
  });
}

function isClass(fn: Function): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(fn));
}
