// One entry point per direction for the five formats: parse an encrypted file into branches plus its
// metadata, and emit decrypted branches (or one subtree) back in the file's own format.
import { SopsFormatError } from '../errors.js';
import { extractMetadata, type SopsMetadata } from '../metadata.js';
import { compileRules, type Re2Lib } from '../rules.js';
import type { SopsFormat } from '../source.js';
import type { Branch, TreeNode } from '../tree.js';
import { emitBinaryFile } from './binary.js';
import { emitDotenvFile, parseDotenvBranches } from './dotenv.js';
import { emitIniFile, parseIniBranches } from './ini.js';
import { emitJsonFile, emitJsonValue, parseJsonBranches } from './json.js';
import { emitYamlFile, emitYamlValue, parseYamlBranches, type YamlLib } from './yaml.js';

export interface FormatLibraries {
  /** The `yaml` package, imported only when a YAML file is read or written. */
  yaml(): Promise<YamlLib>;
  /** The RE2 engine (`re2js`), imported only when a file has a regular-expression rule. */
  re2(): Promise<Re2Lib>;
}

export interface SopsFile {
  format: SopsFormat;
  /** The data branches, metadata removed, values still encrypted. */
  branches: Branch[];
  metadata: SopsMetadata;
}

/** Parses an encrypted sops file of the given format, its rules compiled; throws SopsFormatError when it is not one. */
export async function parseSopsFile(data: Buffer, format: SopsFormat, libs: FormatLibraries): Promise<SopsFile> {
  const file = await parseBranches(data, format, libs);
  await compileRules(file.metadata.rules, libs.re2);
  return file;
}

async function parseBranches(data: Buffer, format: SopsFormat, libs: FormatLibraries): Promise<SopsFile> {
  switch (format) {
    case 'yaml': {
      const branches = parseYamlBranches(data, await libs.yaml());
      return { format, ...extractMetadata(branches, 'nested') };
    }
    case 'json':
    case 'binary':
      return { format, ...extractMetadata(parseJsonBranches(data), 'nested') };
    case 'dotenv':
      return { format, ...extractMetadata(parseDotenvBranches(data), 'prefixed') };
    case 'ini':
      return { format, ...extractMetadata(parseIniBranches(data), 'section') };
  }
}

/**
 * The decrypted file in its own format, metadata left out (what `sops -d` prints). Library errors
 * are replaced by a fixed message: they could quote decrypted text.
 */
export async function emitFile(format: SopsFormat, branches: readonly Branch[], libs: FormatLibraries): Promise<Buffer> {
  if (format === 'yaml') {
    const lib = await libs.yaml();
    try {
      return emitYamlFile(branches, lib);
    } catch {
      throw new SopsFormatError('the decrypted YAML cannot be serialized');
    }
  }
  if (format === 'json') return emitJsonFile(branches);
  if (format === 'dotenv') return emitDotenvFile(branches);
  if (format === 'ini') return emitIniFile(branches);
  return emitBinaryFile(branches);
}

/** A mapping or list inside a YAML or JSON file, serialized on its own. */
export async function emitSubtree(format: SopsFormat, node: TreeNode, libs: FormatLibraries): Promise<Buffer> {
  if (format === 'json') return emitJsonValue(node);
  const lib = await libs.yaml();
  try {
    return emitYamlValue(node, lib);
  } catch {
    throw new SopsFormatError('the decrypted YAML cannot be serialized');
  }
}
