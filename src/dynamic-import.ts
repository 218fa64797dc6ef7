// import() of the packages that stay outside the bundle (the 1Password SDK, age-encryption) and of
// a test build's fake SDK. Why not a plain import(): the bundle runs as a script (src/cli/code-cache.ts),
// where import() has no module loader; the entry, a real module, passes its own as `__import`.
// Anywhere else (the sources run directly, as the unit tests do) it is the plain import().
declare const __import: ((specifier: string) => Promise<unknown>) | undefined;

/** Loads an ES module or package by specifier, through the entry's loader when there is one. */
export function dynamicImport<T>(specifier: string): Promise<T> {
  return (typeof __import === 'function' ? __import(specifier) : import(specifier)) as Promise<T>;
}
