import { timingSafeEqual } from 'node:crypto';

/**
 * DEMO-ONLY CREDENTIALS. These accounts exist so that the demo and the tests can sign in; they are
 * published in the README and in this file. Never reuse this pattern (plain-text passwords in code)
 * for anything real.
 */
export const DEMO_USERS = [
  { username: 'alice', password: 'alice-demo-password', name: 'Alice Example', email: 'alice@example.test' },
  { username: 'bob', password: 'bob-demo-password', name: 'Bob Example', email: 'bob@example.test' },
] as const;

export type DemoUser = (typeof DEMO_USERS)[number];

export function findDemoUser(username: string): DemoUser | undefined {
  return DEMO_USERS.find((u) => u.username === username);
}

/** Checks a username/password pair; the comparison does not leak how much of the password matched. */
export function checkDemoCredentials(username: string, password: string): DemoUser | undefined {
  const user = findDemoUser(username);
  const given = Buffer.from(password);
  const expected = Buffer.from(user?.password ?? 'no-such-user-padding');
  const same = given.length === expected.length && timingSafeEqual(given, expected);
  return user && same ? user : undefined;
}
