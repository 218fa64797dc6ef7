// `materialize import opnix FILE`: an OpNix JSON configuration (either format) as a secrets.json
// v1, on stdout or into a new file. The result is loaded back through the program's own loader, so
// what is printed is a configuration `materialize check` accepts (references included).
import { closeSync, constants, lstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig } from '../../config/load.js';
import { importOpnix } from '../../config/opnix.js';
import { ConfigError, UsageError, WriteError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { OutputFlags } from '../output.js';
import { stdout } from '../../stdio.js';

export interface ImportFlags extends OutputFlags {
  output?: string;
  tokenFile: string;
  outputDir: string;
  /** Commander's `--no-links`: false when given. */
  links: boolean;
  secretsDir: string;
}

export const IMPORT_FORMATS = ['opnix'];

/** The input, parsed; a file that cannot be read or parsed is a configuration error naming it. */
function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{ path: '', message: `cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})` }], file);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ConfigError([{ path: '', message: 'is not valid JSON (OpNix configurations are JSON files)' }], file);
  }
}

// Why no overwrite: the file may be a configuration someone wrote by hand; nothing is replaced silently.
/** Writes the result to a new file (the program's umask 077 applies: mode 0600). */
function writeNew(file: string, text: string): void {
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${file} already exists; choose another --output or remove it first`);
    throw new WriteError(`cannot create ${file} (${code ?? 'error'})`, file, { cause: error });
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

// Why look at this machine: an import usually runs where OpNix ran, and two things OpNix left
// behind stop materialize until they are dealt with.
/** Warnings about what OpNix left here: a token file others can read, plaintext files where links will go. */
function leftovers(config: Record<string, unknown>, tokenFile: string): string[] {
  const warnings: string[] = [];
  try {
    const st = lstatSync(tokenFile);
    if (st.isFile() && (st.mode & 0o077) !== 0) {
      warnings.push(`${tokenFile} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} (OpNix makes it 0640 for its group); materialize refuses a token file others can read: chmod 600 ${tokenFile}, or set providers.onepassword.allowReadableTokenFile`);
    }
  } catch {
    // not on this machine
  }
  const files = Object.values(config.secrets as Record<string, { path?: string }>)
    .map((s) => s.path)
    .filter((p): p is string => {
      try {
        return p !== undefined && lstatSync(p).isFile();
      } catch {
        return false;
      }
    });
  if (files.length) {
    warnings.push(`${files.length} file${files.length === 1 ? '' : 's'} OpNix wrote (plaintext, on disk) sit where materialize will put its links (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}); materialize never replaces a file it did not write (exit 74): remove them once the first run has published the secrets`);
  }
  return warnings;
}

/** Runs the conversion; warnings (what OpNix did that materialize does differently) go to stderr. */
export async function runImport(format: string, file: string, flags: ImportFlags, log: Logger): Promise<number> {
  if (!IMPORT_FORMATS.includes(format)) throw new UsageError(`unknown format "${format}" (known: ${IMPORT_FORMATS.join(', ')})`);
  const input = resolve(file);
  let result;
  try {
    result = importOpnix(readJson(input), { outputDir: flags.outputDir, tokenFile: flags.tokenFile, links: flags.links, secretsDir: flags.secretsDir });
  } catch (error) {
    if (error instanceof ConfigError && !error.file) throw new ConfigError(error.issues, input);
    throw error;
  }
  const text = `${JSON.stringify(result.config, null, 2)}\n`;
  // The program's own loader judges the result (names, modes, owners, references' syntax).
  parseConfig(text, flags.output ? resolve(flags.output) : resolve('secrets.json'));
  for (const warning of [...result.warnings, ...leftovers(result.config, flags.tokenFile)]) log.warn(warning);
  if (flags.output) {
    writeNew(resolve(flags.output), text);
    log.info(`wrote ${flags.output}: ${Object.keys(result.config.secrets as object).length} secrets; check it with: materialize check --config ${flags.output}`);
  } else stdout.write(text);
  return 0;
}
