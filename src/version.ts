// The version, inlined by the bundler; `0.0.0-dev` when run from sources (tests under tsx).
declare const __MATERIALIZE_VERSION__: string | undefined;
export const VERSION: string = typeof __MATERIALIZE_VERSION__ === 'string' ? __MATERIALIZE_VERSION__ : '0.0.0-dev';
