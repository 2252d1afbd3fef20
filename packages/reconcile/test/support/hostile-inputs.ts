/** Inputs that cannot be read, for the tests of the exported building blocks. */

/** A revoked proxy of `target`: it answers no question (`Array.isArray`, a read, its keys). */
export function revoked<T extends object>(target: T): T {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

/** `target` whose getter of `field` throws; every other read answers as the target does. */
export function throwingGetter<T extends object>(target: T, field: string): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      if (property === field) throw new Error(`getter ${field} fails`);
      return Reflect.get(object, property, receiver) as unknown;
    },
  });
}
