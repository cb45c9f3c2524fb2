import { completable } from '@modelcontextprotocol/server';
import { z } from 'zod';

/**
 * What the demo server suggests as a person fills in its prompt arguments and resource template
 * variables (`completion/complete`): cities and days for the weather template, languages for the
 * code_review prompt, and a focus that depends on the language already chosen (the request's
 * `context.arguments`). The server declares the `completions` capability because these exist; a
 * server built without them (`completions: false`) declares none, so clients can be checked not to ask.
 */

/** More cities than a client shows at once, so "N more" has something to count. */
export const CITIES = [
  'Accra',
  'Amsterdam',
  'Athens',
  'Auckland',
  'Bangkok',
  'Barcelona',
  'Berlin',
  'Bogotá',
  'Cairo',
  'Cape Town',
  'Chicago',
  'Copenhagen',
  'Dublin',
  'Helsinki',
  'Istanbul',
  'Lagos',
  'Lima',
  'Lisbon',
  'London',
  'Madrid',
  'Mexico City',
  'Montreal',
  'Mumbai',
  'Nairobi',
  'Osaka',
  'Oslo',
  'Ottawa',
  'Paris',
  'Reykjavík',
  'Rome',
  'Santiago',
  'Seoul',
  'Singapore',
  'Stockholm',
  'Sydney',
  'Tokyo',
  'Toronto',
  'Vienna',
  'Warsaw',
  'Zurich',
] as const;

export const DAYS = ['today', 'tomorrow'] as const;

export const LANGUAGES = ['C', 'C#', 'C++', 'Go', 'Java', 'JavaScript', 'Kotlin', 'Python', 'Ruby', 'Rust', 'Swift', 'TypeScript'] as const;

/** What a review may look at, by language; other languages (or none chosen yet) get the general list. */
const FOCUS_BY_LANGUAGE: Record<string, readonly string[]> = {
  Go: ['error handling', 'goroutine leaks', 'interfaces', 'naming'],
  JavaScript: ['async code', 'error handling', 'naming', 'performance'],
  Python: ['naming', 'performance', 'type hints'],
  Rust: ['error handling', 'lifetimes', 'ownership', 'unsafe blocks'],
  TypeScript: ['async code', 'naming', 'null handling', 'type safety'],
};
const GENERAL_FOCUS = ['error handling', 'naming', 'performance', 'readability', 'security', 'tests'];

/** Case-insensitive prefix match: what a person typing the start of a word expects. */
function startingWith(options: readonly string[], value: string): string[] {
  const prefix = value.toLocaleLowerCase();
  return options.filter((option) => option.toLocaleLowerCase().startsWith(prefix));
}

export function focusSuggestions(value: string, language: string | undefined): string[] {
  const known = Object.keys(FOCUS_BY_LANGUAGE).find((name) => name.toLocaleLowerCase() === language?.trim().toLocaleLowerCase());
  return startingWith(known ? (FOCUS_BY_LANGUAGE[known] ?? GENERAL_FOCUS) : GENERAL_FOCUS, value);
}

/** The weather template's completers (its `complete` option), or none. */
export function weatherCompleters(completions: boolean) {
  if (!completions) return {};
  return {
    complete: {
      city: (value: string) => startingWith(CITIES, value),
      day: (value: string) => startingWith(DAYS, value),
    },
  };
}

/** code_review's arguments; `language` and `focus` completable when `completions` is on. */
export function codeReviewArgs(completions: boolean) {
  // Made fresh each time: completable() marks the schema object itself.
  const language = z.string().describe('Programming language of the code');
  const focus = z.string().describe('What to look at most (optional)');
  return z.object({
    language: completions ? completable(language, (value) => startingWith(LANGUAGES, value)) : language,
    code: z.string().describe('The code to review'),
    focus: (completions ? completable(focus, (value, context) => focusSuggestions(value, context?.arguments?.language)) : focus).optional(),
  });
}
