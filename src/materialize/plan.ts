// The plan: every output (secrets, then templates) with its numeric owner, group and mode resolved,
// so unknown users fail before anything is fetched, naming the secret and the field.
import type { Config, OutputSpec } from '../config/load.js';
import { jsonPath } from '../config/validate.js';
import type { ConfigIssue } from '../errors.js';
import type { Accounts } from './users.js';

export interface PlannedOutput {
  spec: OutputSpec;
  uid: number;
  gid: number;
  mode: number;
}

export interface Self {
  uid: number;
  gid: number;
}

export function currentUser(): Self {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

/**
 * Resolves owners and groups. Defaults: the running user, and the owner's primary group (or the
 * running group when the owner is a bare numeric id). With `skip` (build time, when the users do
 * not exist yet) ids are left at -1 and nothing is looked up.
 */
export async function planOutputs(config: Config, accounts: Accounts, self: Self, skip = false): Promise<{ outputs: PlannedOutput[]; issues: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  const outputs: PlannedOutput[] = [];
  for (const spec of [...config.secrets, ...config.templates]) {
    const at = jsonPath([spec.kind === 'secret' ? 'secrets' : 'templates', spec.name]);
    if (skip) {
      outputs.push({ spec, uid: -1, gid: -1, mode: spec.mode });
      continue;
    }
    let uid = self.uid;
    let gid = self.gid;
    if (spec.owner) {
      const account = await accounts.user(spec.owner);
      if (!account) issues.push({ path: `${at}.owner`, message: `there is no user named ${JSON.stringify('name' in spec.owner ? spec.owner.name : spec.owner.id)} on this system` });
      else {
        uid = account.uid;
        if (account.gid >= 0) gid = account.gid;
      }
    }
    if (spec.group) {
      const found = await accounts.group(spec.group);
      if (found === undefined) issues.push({ path: `${at}.group`, message: `there is no group named ${JSON.stringify('name' in spec.group ? spec.group.name : spec.group.id)} on this system` });
      else gid = found;
    }
    outputs.push({ spec, uid, gid, mode: spec.mode });
  }
  return { outputs, issues };
}
