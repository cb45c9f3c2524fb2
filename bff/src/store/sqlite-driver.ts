import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * better-sqlite3 for the Node that runs the BFF.
 *
 * From Node 22.14 on (Node-API 10): better-sqlite3 13, a Node-API addon whose package holds prebuilt
 * binaries, so nothing is compiled at install and one binary serves every such Node.
 *
 * On Node 20 (Node-API 9, where 13 crashes at the first `new Database()`): better-sqlite3 12, installed
 * as the optional dependency `better-sqlite3-node20` and compiled at install for the Node running pnpm.
 * 12 stays off newer Node: compiled against Node 24.19+ headers, its statements abort the process when
 * the garbage collector frees them outside JavaScript ("Assertion failed: (env) != nullptr" in
 * RemoveEnvironmentCleanupHook, nodejs/node#65446), which 13 does not do.
 *
 * When Node 20 goes, so do `better-sqlite3-node20` and this choice.
 */
const require = createRequire(import.meta.url);
const nodeApi = Number(process.versions.napi);

export const Database = require(nodeApi >= 10 ? 'better-sqlite3' : 'better-sqlite3-node20') as typeof BetterSqlite3;
export type SqliteDatabase = BetterSqlite3.Database;
