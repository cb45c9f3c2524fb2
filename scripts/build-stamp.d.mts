// Types of build-stamp.mjs (plain JavaScript: it runs before anything is built), for the tests.

export const STAMP_PATH: string;
export const SERVER_PATH: string;
export const SPA_INDEX_PATH: string;
export const SOURCES: readonly string[];

export interface BuildStamp {
  builtAt: string;
  node: string;
  files: Record<string, string>;
}

export function hashSources(root: string): Record<string, string>;
export function checkBuild(root: string): { ok: true; stamp: BuildStamp } | { ok: false; message: string };
