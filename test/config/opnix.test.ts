// OpNix's JSON → secrets.json v1. Expected results follow OpNix's documented and coded behaviour
// (its docs and internal/config, internal/secrets at the fixtures' commit): relative paths are
// written under outputDir, mode defaults to 0600, an owner without a group keeps root's group,
// `services` restarts units, the older format's owner is "user:group". Inputs are OpNix's own
// documentation examples and a user's configuration in the older format (test/fixtures/opnix).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { importOpnix, OPNIX_DEFAULTS } from '../../src/config/opnix.js';
import { ConfigError } from '../../src/errors.js';
import { REPO } from '../helpers/cli.js';

const fixture = (name: string) => JSON.parse(readFileSync(join(REPO, 'test/fixtures/opnix', name), 'utf8')) as unknown;
const TOKEN = { onepassword: { tokenFile: '/etc/opnix-token' } };

test('the older format {name, opItem, opField, target, owner: "user:group"}: the reference is built, the owner split; a target in /run/secrets needs no link', () => {
  assert.deepEqual(importOpnix(fixture('older-format.json')), {
    config: {
      version: 1,
      providers: TOKEN,
      secrets: {
        'openai-api-key': { sources: [{ onepassword: 'op://Infrastructure Secrets/openai-api-key/password' }], owner: 'opencode', group: 'opencode', mode: '0400' },
      },
    },
    warnings: [],
  });
});

test('the current format (OpNix\'s documented example): relative paths become names, linked where OpNix wrote them; files keep kind "file"', () => {
  const { config, warnings } = importOpnix(fixture('configuration-reference.json'));
  assert.deepEqual(config, {
    version: 1,
    providers: TOKEN,
    secrets: {
      'relative/path/to/secret': { sources: [{ onepassword: 'op://Vault/Item/field' }], owner: 'user', group: 'group', mode: '0600', path: '/var/lib/opnix/secrets/relative/path/to/secret' },
      'ssl/certificate': { sources: [{ onepassword: 'op://Vault/SSL Certs/example.com/cert' }], owner: 'caddy', group: 'caddy', mode: '0644', path: '/var/lib/opnix/secrets/ssl/certificate' },
      'keys/server.age': { sources: [{ onepassword: { reference: 'op://Vault/Keys/server.age', kind: 'file' } }], mode: '0600', path: '/var/lib/opnix/secrets/keys/server.age' },
    },
  });
  assert.deepEqual(warnings, []);
  // The result is a configuration the program loads.
  assert.doesNotThrow(() => parseConfig(JSON.stringify(config), '/etc/materialize/secrets.json'));
});

test('no owner: root\'s file (materialize\'s default when run as root); mode 0600 as OpNix; --no-links and another outputDir', () => {
  const options = { ...OPNIX_DEFAULTS, outputDir: '/srv/opnix', links: false };
  assert.deepEqual(importOpnix(fixture('getting-started.json'), options).config.secrets, {
    databasePassword: { sources: [{ onepassword: 'op://Homelab/Database/password' }], mode: '0600' },
    sslCertificate: { sources: [{ onepassword: 'op://Homelab/SSL/certificate' }], mode: '0600' },
  });
  assert.deepEqual(importOpnix(fixture('multi-service.json'), { ...OPNIX_DEFAULTS, outputDir: '/srv/opnix' }).config.secrets, {
    'caddy/ssl-cert': { sources: [{ onepassword: 'op://Homelab/SSL/certificate' }], owner: 'caddy', group: 'caddy', mode: '0644', path: '/srv/opnix/caddy/ssl-cert' },
    'postgres/password': { sources: [{ onepassword: 'op://Homelab/Database/password' }], owner: 'postgres', group: 'postgres', mode: '0600', path: '/srv/opnix/postgres/password' },
  });
});

test('path templates, services, symlinks, colliding names, systemd and error settings', () => {
  const { config, warnings } = importOpnix({
    pathTemplate: '/etc/secrets/{service}/{environment}/{file}',
    defaults: { environment: 'prod' },
    systemdIntegration: { enable: true, services: ['grafana'], restartOnChange: true, errorHandling: { continueOnError: false, maxRetries: 9 } },
    secrets: [
      { reference: 'op://Homelab/Database/password', variables: { service: 'postgresql', file: 'password' }, services: ['postgresql'], owner: 'postgres' },
      { reference: 'op://Homelab/Redis/password', variables: { service: 'redis', file: 'password', environment: 'staging' }, services: { redis: { restart: true }, 'sentinel.socket': { restart: false }, haproxy: { signal: 'SIGHUP' } } },
      { path: '/etc/ssl/app.pem', reference: 'op://Homelab/SSL/certificate', symlinks: ['/etc/ssl/legacy.pem', '/opt/app/cert.pem'], group: 'ssl-cert', mode: '0640' },
    ],
  });
  assert.deepEqual(config, {
    version: 1,
    failurePolicy: 'abort',
    providers: { onepassword: { tokenFile: '/etc/opnix-token', attempts: 5 } },
    secrets: {
      // Two files named "password": each is named by its whole path instead.
      'etc/secrets/postgresql/prod/password': { sources: [{ onepassword: 'op://Homelab/Database/password' }], owner: 'postgres', group: 'root', mode: '0600', restartUnits: ['postgresql.service'], path: '/etc/secrets/postgresql/prod/password' },
      'etc/secrets/redis/staging/password': { sources: [{ onepassword: 'op://Homelab/Redis/password' }], mode: '0600', restartUnits: ['redis.service'], reloadUnits: ['haproxy.service'], path: '/etc/secrets/redis/staging/password' },
      'app.pem': { sources: [{ onepassword: 'op://Homelab/SSL/certificate' }], owner: 'root', group: 'ssl-cert', mode: '0640', path: '/etc/ssl/app.pem' },
      'app.pem.link1': { sources: [{ onepassword: 'op://Homelab/SSL/certificate' }], owner: 'root', group: 'ssl-cert', mode: '0640', path: '/etc/ssl/legacy.pem' },
      'app.pem.link2': { sources: [{ onepassword: 'op://Homelab/SSL/certificate' }], owner: 'root', group: 'ssl-cert', mode: '0640', path: '/opt/app/cert.pem' },
    },
  });
  assert.deepEqual(warnings, [
    'secrets[1].services.haproxy: OpNix sent SIGHUP; materialize reloads the unit (systemctl try-reload-or-restart, its ExecReload=)',
    'systemdIntegration.services: order grafana after materialize-secrets.target yourself (After= and Wants=), or list them in a secret\'s restartUnits',
    'symlinks: materialize links one path per secret; each extra link is a secret of its own (NAME.linkN), from the same source, fetched once',
  ]);
  assert.doesNotThrow(() => parseConfig(JSON.stringify(config), '/etc/materialize/secrets.json'));
  // restartOnChange = false: OpNix restarted nothing, neither does the import.
  const quiet = importOpnix({ systemdIntegration: { restartOnChange: false }, secrets: [{ path: 'a', reference: 'op://v/i/f', services: ['x'] }] });
  assert.deepEqual(quiet.config.secrets, { a: { sources: [{ onepassword: 'op://v/i/f' }], mode: '0600', path: '/var/lib/opnix/secrets/a' } });
});

test('every problem is reported at once, located in the OpNix file', () => {
  const bad = {
    pathTemplate: '/etc/{missing}/x',
    secrets: [
      'not an object',
      { path: 'a', reference: '' },
      { name: 'b', opItem: 'no-vault', opField: 'password' },
      { path: 'c', reference: 'op://v/i/f', mode: 'rw-------', kind: 'document' },
      { reference: 'op://v/i/f' },
      { path: 'd', reference: 'op://v/i/f', symlinks: ['relative/link'] },
      { path: '.materialize-x', reference: 'op://v/i/f' },
    ],
  };
  assert.throws(
    () => importOpnix(bad),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.issues, [
        { path: 'secrets[0]', message: 'expected an object' },
        { path: 'secrets[1].reference', message: 'is required (expected "op://Vault/Item/field")' },
        { path: 'secrets[2].opItem', message: 'expected "Vault/Item"' },
        { path: 'secrets[3].kind', message: 'expected "field" or "file"' },
        { path: 'secrets[3].mode', message: 'expected an octal mode such as "0600", got "rw-------"' },
        { path: 'secrets[4]', message: 'its path from pathTemplate uses {missing}, which neither the secret\'s variables nor the file\'s defaults define' },
        { path: 'secrets[5].symlinks[0]', message: 'expected an absolute path' },
        { path: 'secrets[6].path', message: 'gives the secret name ".materialize-x", which must not start with ".materialize" (reserved)' },
      ]);
      return true;
    },
  );
  assert.throws(() => importOpnix({ nope: [] }), /expected OpNix's \{"secrets": \[\.\.\.\]\}/);
});
