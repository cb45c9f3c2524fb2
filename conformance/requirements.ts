import { readFileSync } from 'node:fs';

/**
 * A spec revision's requirement set, as the conformance suite ships it in requirements/<revision>.yaml
 * (frozen at the revision's release; see the suite's README, "Conformance Requirements"): the client
 * scenarios that conformance to the revision requires, and those it runs for visibility only.
 */

/** The revisions this project claims; the full run goes through them in this order. */
export const REVISIONS = ['2026-07-28', '2025-11-25'] as const;
export type Revision = (typeof REVISIONS)[number];

export function isRevision(value: string): value is Revision {
  return (REVISIONS as readonly string[]).includes(value);
}

export interface NotScored {
  scenario: string;
  /** Which subcommand runs it: `client` ones are ours. */
  leg: string;
  /** extension | added-after-release | pending */
  reason: string;
}

export interface RequirementSet {
  revision: string;
  /** Scored client scenarios: each must pass for the revision. */
  client: string[];
  /** Client scenarios run and reported, never scored. */
  notScored: NotScored[];
}

export function readRequirementSet(path: string, revision: string): RequirementSet {
  const doc = parseRequirementsYaml(readFileSync(path, 'utf8'), path);
  const strings = (key: string): string[] => {
    const list = doc[key] ?? [];
    if (list.some((item) => typeof item !== 'string')) throw new Error(`${path}: "${key}" must be a list of scenario names`);
    return list as string[];
  };
  const notScored = (doc.not_scored ?? []).map((item): NotScored => {
    if (typeof item === 'string' || !item.scenario || !item.leg) throw new Error(`${path}: every not_scored entry needs scenario and leg`);
    return { scenario: item.scenario, leg: item.leg, reason: item.reason ?? 'not scored' };
  });
  return { revision, client: strings('client'), notScored: notScored.filter((n) => n.leg === 'client') };
}

type Item = string | Record<string, string>;

/**
 * The YAML subset these files use, and nothing more: comments, top-level keys each holding a block
 * list, list items that are plain scalars or flat `key: value` maps, and folded scalars (`>-`) in
 * those maps. Anything else is an error, so that a change of format is noticed rather than misread.
 */
export function parseRequirementsYaml(text: string, name = 'requirements'): Record<string, Item[]> {
  const doc: Record<string, Item[]> = {};
  let list: Item[] | undefined;
  let map: Record<string, string> | undefined;
  /** The map key whose folded scalar is being read, and the indentation its lines are deeper than. */
  let folding: { key: string; indent: number } | undefined;
  const unquote = (v: string) => v.trim().replace(/^(['"])(.*)\1$/, '$2');
  const lines = text.split(/\r?\n/);
  for (const [index, line] of lines.entries()) {
    const indent = line.length - line.trimStart().length;
    if (folding && map && (line.trim() === '' || indent > folding.indent)) {
      const part = line.trim();
      if (part) map[folding.key] = map[folding.key] ? `${map[folding.key]} ${part}` : part;
      continue;
    }
    folding = undefined;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const key = /^([A-Za-z_][\w-]*):\s*$/.exec(line);
    const item = /^( +)- (.+)$/.exec(line);
    const member = /^ +([A-Za-z_][\w-]*):(?:\s+(.*))?$/.exec(line);
    if (key) {
      list = [];
      map = undefined;
      doc[key[1] as string] = list;
    } else if (list && item) {
      const entry = /^([A-Za-z_][\w-]*):(?:\s+(.*))?$/.exec(item[2] as string);
      if (entry) {
        map = {};
        list.push(map);
        const value = entry[2] ?? '';
        if (/^[>|]-?$/.test(value)) folding = { key: entry[1] as string, indent: (item[1] as string).length + 2 };
        else map[entry[1] as string] = unquote(value);
      } else {
        map = undefined;
        list.push(unquote(item[2] as string));
      }
    } else if (map && member) {
      const value = member[2] ?? '';
      if (/^[>|]-?$/.test(value)) folding = { key: member[1] as string, indent };
      else map[member[1] as string] = unquote(value);
    } else {
      throw new Error(`${name}:${index + 1}: not in the YAML subset requirement sets use: ${line}`);
    }
  }
  return doc;
}
