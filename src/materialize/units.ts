// Restarting and reloading the units whose secrets changed, through systemctl (--no-block, so a
// unit that waits for secrets cannot deadlock the run that provides them).
import { existsSync } from 'node:fs';
import { childFailure, firstLine, runChild } from '../exec.js';
import type { Logger } from '../log.js';

export interface UnitActions {
  restart: string[];
  reload: string[];
}

export type UnitMode = 'auto' | 'yes' | 'no';

/** Whether this machine runs systemd (sd_booted(3): /run/systemd/system exists). */
function systemdRunning(): boolean {
  return existsSync('/run/systemd/system');
}

/** Runs the actions; returns messages for the ones that failed (never fatal: the secrets are live). */
export async function runUnitActions(actions: UnitActions, options: { mode: UnitMode; scope: 'system' | 'user'; log: Logger }): Promise<string[]> {
  const { restart, reload } = actions;
  if (restart.length === 0 && reload.length === 0) return [];
  const list = [...restart.map((u) => `restart ${u}`), ...reload.map((u) => `reload ${u}`)].join(', ');
  if (options.mode === 'no' || (options.mode === 'auto' && !systemdRunning())) {
    options.log.info(`units not touched (${options.mode === 'no' ? '--units no' : 'systemd is not running'}): would ${list}`);
    return [];
  }
  const errors: string[] = [];
  // systemctl --user needs the user's bus; keep only what locates it.
  const env = { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS };
  const scope = options.scope === 'user' ? ['--user'] : [];
  for (const [verb, units] of [
    ['try-restart', restart],
    ['try-reload-or-restart', reload],
  ] as const) {
    if (units.length === 0) continue;
    const result = await runChild('systemctl', [...scope, '--no-block', verb, '--', ...units], { env, timeoutMs: 60_000 });
    if (result.code === 0) options.log.info(`${verb} ${units.join(' ')}`);
    else errors.push(`systemctl ${verb} ${units.join(' ')} failed: ${firstLine(result.stderr) || childFailure(result)}`);
  }
  return errors;
}
