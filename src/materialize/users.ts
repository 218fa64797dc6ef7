// Owner and group resolution. Reads /etc/passwd and /etc/group (fast, no child process), falling
// back to `getent` for names that live elsewhere in NSS (LDAP, systemd-userdb). Numeric ids are
// taken as they are: DynamicUser= services and containers have no entry at activation time.
import { readFileSync } from 'node:fs';
import { runChild } from '../exec.js';
import type { Principal } from '../config/names.js';

export interface Account {
  uid: number;
  gid: number;
}

export interface AccountFiles {
  passwd?: string;
  group?: string;
  /** Whether to ask `getent` for names the files do not have (off in tests that use fake files). */
  useGetent?: boolean;
}

function parseTable(file: string): string[][] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

export class Accounts {
  readonly #users = new Map<string, Account>();
  readonly #usersById = new Map<number, Account>();
  readonly #groups = new Map<string, number>();
  readonly #userNames = new Map<number, string>();
  readonly #groupNames = new Map<number, string>();
  readonly #useGetent: boolean;

  constructor(files: AccountFiles = {}) {
    for (const f of parseTable(files.passwd ?? '/etc/passwd')) {
      const account = { uid: Number(f[2]), gid: Number(f[3]) };
      if (f[0] && Number.isInteger(account.uid) && Number.isInteger(account.gid)) {
        this.#users.set(f[0], account);
        if (!this.#usersById.has(account.uid)) {
          this.#usersById.set(account.uid, account);
          this.#userNames.set(account.uid, f[0]);
        }
      }
    }
    for (const f of parseTable(files.group ?? '/etc/group')) {
      const gid = Number(f[2]);
      if (f[0] && Number.isInteger(gid)) {
        this.#groups.set(f[0], gid);
        if (!this.#groupNames.has(gid)) this.#groupNames.set(gid, f[0]);
      }
    }
    this.#useGetent = files.useGetent ?? true;
  }

  // Why: one getent call per unknown name at most; getent exits 2 when the key is unknown.
  async #getent(database: 'passwd' | 'group', name: string): Promise<string[] | undefined> {
    if (!this.#useGetent) return undefined;
    try {
      const { stdout, code } = await runChild('getent', [database, name], { timeoutMs: 5000 });
      return code === 0 && stdout.length > 0 ? stdout.toString('utf8').split('\n')[0]!.split(':') : undefined;
    } catch {
      return undefined;
    }
  }

  /** Names for display (status); undefined when the id has no entry in the files. */
  userName(uid: number): string | undefined {
    return this.#userNames.get(uid);
  }

  groupName(gid: number): string | undefined {
    return this.#groupNames.get(gid);
  }

  async user(principal: Principal): Promise<Account | undefined> {
    if ('id' in principal) return this.#usersById.get(principal.id) ?? { uid: principal.id, gid: -1 };
    let account = this.#users.get(principal.name);
    if (!account) {
      const f = await this.#getent('passwd', principal.name);
      if (f) {
        account = { uid: Number(f[2]), gid: Number(f[3]) };
        this.#users.set(principal.name, account);
      }
    }
    return account;
  }

  /** `filesOnly`: answer from /etc/group alone (the engine's own `keys` lookup must not spawn getent on every run). */
  async group(principal: Principal, options: { filesOnly?: boolean } = {}): Promise<number | undefined> {
    if ('id' in principal) return principal.id;
    let gid = this.#groups.get(principal.name);
    if (gid === undefined && !options.filesOnly) {
      const f = await this.#getent('group', principal.name);
      if (f) {
        gid = Number(f[2]);
        this.#groups.set(principal.name, gid);
      }
    }
    return gid;
  }
}
