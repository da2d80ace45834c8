/**
 * Which methods to track, as a tree of property paths: `{ chat: { completions: { create: fn } } }`.
 * A leaf gets the SDK's own method (bound to the real object) and returns the tracked method.
 */
export interface TrackTree {
  [prop: string]: TrackTree | ((original: (...args: unknown[]) => unknown, owner: object) => (...args: unknown[]) => unknown);
}

export const RAW = Symbol.for('kostrack.rawClient');

/**
 * The wrapped client: a Proxy over the SDK client that swaps the tracked members and passes
 * everything else through. The Proxy keeps the client's type, prototype (`instanceof` holds) and
 * property writes. Untracked methods are bound to the real client, because SDK clients keep
 * `#private` fields that a Proxy receiver cannot reach. Everything is cached, so repeated access
 * costs a Map lookup.
 */
export function proxyClient<T extends object>(target: T, tree: TrackTree): T {
  const cache = new Map<PropertyKey, { source: unknown; wrapped: unknown }>();
  return new Proxy(target, {
    get(obj, prop) {
      if (prop === RAW) return obj;
      const value = Reflect.get(obj, prop, obj) as unknown;
      const hit = cache.get(prop);
      if (hit !== undefined && hit.source === value) return hit.wrapped;
      let wrapped: unknown = value;
      const node = typeof prop === 'string' && Object.hasOwn(tree, prop) ? tree[prop] : undefined;
      if (node !== undefined) wrapped = tracked(value, node, obj);
      else if (typeof value === 'function' && !isClass(value)) wrapped = value.bind(obj);
      else return value;
      cache.set(prop, { source: value, wrapped });
      return wrapped;
    },
  });
}

/** The tracked form of `value`, the member of `owner` that `node` describes. */
function tracked(value: unknown, node: TrackTree[string], owner: object): unknown {
  if (typeof node === 'function') return typeof value === 'function' ? node(value.bind(owner), owner) : value;
  return value !== null && typeof value === 'object' ? resourceView(value, node) : value;
}

/**
 * A tracked resource below the client (`chat`, `chat.completions`, `messages`, `models`): a plain
 * object whose prototype is the real resource, with the tracked members as own getters. Every
 * Proxy trap on a call's path cost about as much as the rest of the tracking on a real socket,
 * so only the client itself is a Proxy; `client.chat.completions.create` is one trap and two
 * plain property reads. Untracked methods of the resource's class are bound to the real resource,
 * like the Proxy does; other reads fall through the prototype to it; `instanceof` holds.
 */
function resourceView(target: object, tree: TrackTree): object {
  const view = Object.create(target) as Record<PropertyKey, unknown>;
  for (let proto = Object.getPrototypeOf(target) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const key of Reflect.ownKeys(proto)) {
      if (key === 'constructor' || Object.hasOwn(view, key) || (typeof key === 'string' && Object.hasOwn(tree, key))) continue;
      const method = Object.getOwnPropertyDescriptor(proto, key)?.value as unknown;
      if (typeof method === 'function') Object.defineProperty(view, key, { value: method.bind(target), writable: true, configurable: true });
    }
  }
  for (const prop of Object.keys(tree)) {
    const node = tree[prop];
    let source: unknown;
    let wrapped: unknown;
    Object.defineProperty(view, prop, {
      enumerable: true,
      configurable: true,
      // Re-wrapped when the real member changes (a test spy, a patched SDK), like the Proxy's cache.
      get() {
        const value = (target as Record<string, unknown>)[prop];
        if (value !== source || wrapped === undefined) {
          source = value;
          wrapped = tracked(value, node, target);
        }
        return wrapped;
      },
      set(value: unknown) {
        (target as Record<string, unknown>)[prop] = value;
      },
    });
  }
  return view;
}

function isClass(fn: Function): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(fn));
}
