/**
 * Must be the first import of the entry module: zod decides whether to compile parsers with
 * new Function() when a schema is built (the MCP SDK builds its schemas as it loads). The page's
 * CSP forbids eval, and even zod's guarded probe would be reported as a CSP violation.
 */
import { config } from 'zod';

config({ jitless: true });
