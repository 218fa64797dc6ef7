// Test hooks (fault injection, injected fakes) exist only in the test build. The production build
// (`npm run build` → dist/) defines __MATERIALIZE_TEST_HOOKS__ as false, so esbuild removes every
// hook and no environment variable can reach one; `npm test` also builds dist-test/ with it true,
// and the suite runs that build. Run from source (tsx), the hooks are off too.
declare const __MATERIALIZE_TEST_HOOKS__: boolean | undefined;

/** Whether this build carries test hooks (only dist-test/). */
export const TEST_HOOKS: boolean = typeof __MATERIALIZE_TEST_HOOKS__ === 'boolean' && __MATERIALIZE_TEST_HOOKS__;

/** A test hook's setting from the environment; always undefined in a production build. */
export function testHook(name: string): string | undefined {
  return TEST_HOOKS ? process.env[name] : undefined;
}
