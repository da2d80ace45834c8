/**
 * Which methods to track, as a tree of property paths: `{ chat: { completions: { create: fn } } }`.
 * A leaf gets the SDK's own method (bound to the real object) and returns the tracked method.
 */
export interface TrackTree {
  [prop: string]: TrackTree | ((original: (...args: unknown[]) => unknown, owner: object) => (...args: unknown[]) => unknown);
}

export const RAW = Symbol.for('kostrack.rawClient');

/**
 * The wrapped client. Each tracked object (the client, `chat`, `chat.completions`, `messages`,
 * `models`) becomes a view: a small object whose own properties are only the tracked members,
 * getters re-wrapped when the real member changes (a test spy), over a pass-through Proxy of the
 * real object as its prototype. Everything else falls through to that Proxy: reads come from the
 * real object, writes go to it, methods are bound to it (SDK classes keep `#private` fields no
 * other receiver can reach), and `instanceof` and the SDK's types hold. A Proxy at every level cost
 * one trap per property read, and on a real socket every trap on a call's path cost about as
 * much as the rest of the tracking; with views `client.chat.completions.create` is three plain
 * getter reads.
 */
export function trackedClient<T extends object>(target: T, tree: TrackTree): T {
  const view = trackedView(target, tree);
  Object.defineProperty(view, RAW, { value: target });
  return view as T;
}

function trackedView(target: object, tree: TrackTree): object {
  const view = Object.create(passThrough(target)) as object;
  const real = target as Record<string, unknown>;
  for (const prop of Object.keys(tree)) {
    const node = tree[prop];
    let source: unknown;
    let wrapped: unknown;
    Object.defineProperty(view, prop, {
      enumerable: true,
      configurable: true,
      get() {
        const value = real[prop];
        if (value !== source || wrapped === undefined) {
          source = value;
          wrapped = tracked(value, node, target);
        }
        return wrapped;
      },
      set(value: unknown) {
        real[prop] = value;
      },
    });
  }
  return view;
}

/** The real object as a view's prototype: reads and writes reach it, its methods run bound to it. */
function passThrough(target: object): object {
  const bound = new Map<PropertyKey, { source: Function; wrapped: Function }>();
  return new Proxy(target, {
    get(obj, prop) {
      const value = Reflect.get(obj, prop, obj) as unknown;
      if (typeof value !== 'function' || isClass(value)) return value;
      const hit = bound.get(prop);
      if (hit !== undefined && hit.source === value) return hit.wrapped;
      const wrapped = value.bind(obj) as Function;
      bound.set(prop, { source: value, wrapped });
      return wrapped;
    },
    // A write through the view lands on the real object, not on the view.
    set: (obj, prop, value) => Reflect.set(obj, prop, value, obj),
  });
}

/** The tracked form of `value`, the member of `owner` that `node` describes. */
function tracked(value: unknown, node: TrackTree[string], owner: object): unknown {
  if (typeof node === 'function') return typeof value === 'function' ? node(value.bind(owner), owner) : value;
  return value !== null && typeof value === 'object' ? trackedView(value, node) : value;
}

function isClass(fn: Function): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(fn));
}
