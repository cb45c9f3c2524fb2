/**
 * A list the server gives page by page (tools, resources, resource templates, prompts): what is loaded,
 * a "Load more" button while the server has more, and a search box over what is loaded that says so.
 *
 * Loaded counts are announced politely (the status line); after "Load more" focus moves to the first
 * newly loaded item the search lets through, else stays on the button, else goes to the status line.
 * A page that fails leaves what is loaded and the button, to try again. When the server says the list
 * changed, the list offers to load it again (its cursors may no longer mean anything).
 */
import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { getListPages, getNextListPage, type ListItem, type ListKind, type LoadedList } from '../calls';
import { itemKey } from '../listPages';
import { watchLists } from '../mcp';
import { CallError } from './CallError';

/** With fewer items than this and nothing more on the server, no search box. */
const SEARCH_FROM = 6;

export interface PagedListProps<K extends ListKind> {
  server: string;
  initial: LoadedList<K>;
  /** Singular and plural, as in "1 tool", "17 tools". */
  noun: { one: string; many: string };
  /** The search box's label, e.g. "Search tools". */
  searchLabel: string;
  emptyText: string;
  matches: (item: ListItem<K>, query: string) => boolean;
  renderItem: (item: ListItem<K>) => ReactNode;
  /** 'rows' (the item list) or 'cards' (one card per item). */
  layout?: 'rows' | 'cards';
  /** The search to start with, when it is kept elsewhere too (the URL), and where to tell every change. */
  initialQuery?: string;
  onQueryChange?: (query: string) => void;
}

/** The status line: how many are loaded, how many of them the search lets through, and whether the server has more. */
export function listSummary(
  shown: number,
  loaded: number,
  more: boolean,
  searching: boolean,
  noun: { one: string; many: string },
): string {
  const count = (n: number) => `${n} ${n === 1 ? noun.one : noun.many}`;
  if (!more) return searching ? `${shown} of ${count(loaded)}` : count(loaded);
  return searching
    ? `${shown} of ${loaded} loaded ${loaded === 1 ? noun.one : noun.many} ${shown === 1 ? 'matches' : 'match'}; more on the server`
    : `${count(loaded)} loaded; more on the server`;
}

export function PagedList<K extends ListKind>(props: PagedListProps<K>) {
  const { server, initial, noun, searchLabel, emptyText, matches, renderItem, layout = 'rows', onQueryChange } = props;
  const [list, setList] = useState(initial);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>();
  const [changed, setChanged] = useState(false);
  // The box holds its own text: a URL kept in step catches up after each keystroke, too late for a controlled input.
  const [query, setQuery] = useState(props.initialQuery ?? '');
  /** After a page came in: the key of the first new item to focus, or null for the status line. */
  const [focusTarget, setFocusTarget] = useState<string | null | undefined>();
  const searchId = useId();
  const listRef = useRef<HTMLUListElement>(null);
  const statusRef = useRef<HTMLParagraphElement>(null);
  const keyOf = itemKey[initial.kind] as (item: ListItem<K>) => string;

  useEffect(() => {
    setList(initial);
    setError(undefined);
    setChanged(false);
  }, [initial]);

  // A list change from the server (templates change with resources).
  useEffect(() => {
    const watched = initial.kind === 'resourceTemplates' ? 'resources' : initial.kind;
    return watchLists((changedServer, kind) => {
      if (changedServer === server && kind === watched) setChanged(true);
    });
  }, [server, initial.kind]);

  useEffect(() => {
    if (focusTarget === undefined) return;
    setFocusTarget(undefined);
    if (focusTarget === null) {
      statusRef.current?.focus();
      return;
    }
    const item = [...(listRef.current?.children ?? [])].find((child) => child instanceof HTMLElement && child.dataset.key === focusTarget);
    if (!(item instanceof HTMLElement)) return;
    const link = item.querySelector<HTMLElement>('a[href]');
    if (link) {
      link.focus();
    } else {
      item.tabIndex = -1;
      item.focus();
    }
  }, [focusTarget]);

  const trimmed = query.trim();
  const shown = trimmed ? list.items.filter((item) => matches(item, trimmed)) : list.items;
  const more = list.nextCursor !== undefined;
  const showSearch = list.items.length >= SEARCH_FROM || more || list.pages > 1;

  async function loadMore() {
    if (loading) return;
    setLoading(true);
    setError(undefined);
    const before = list;
    try {
      const next = await getNextListPage(server, before);
      setList(next);
      const fresh = next.items.slice(before.items.length).find((item) => !trimmed || matches(item, trimmed));
      if (fresh !== undefined) setFocusTarget(keyOf(fresh));
      else if (next.nextCursor === undefined) setFocusTarget(null);
    } catch (caught) {
      setError(caught);
    } finally {
      setLoading(false);
    }
  }

  async function reload() {
    setLoading(true);
    setError(undefined);
    try {
      setList(await getListPages(server, initial.kind));
      setChanged(false);
      setFocusTarget(null);
    } catch (caught) {
      setError(caught);
    } finally {
      setLoading(false);
    }
  }

  const changedNotice = changed && (
    <p className="list-changed">
      The server’s {noun.many} changed since this list was loaded.{' '}
      <button type="button" className="button-secondary button-small" onClick={() => void reload()}>
        Load the list again
      </button>
    </p>
  );

  if (list.items.length === 0 && !more) {
    return (
      <>
        {changedNotice}
        <p className="empty">{emptyText}</p>
        {list.stopped && <p className="error">{list.stopped}</p>}
      </>
    );
  }

  return (
    <>
      {changedNotice}
      {showSearch && (
        <search className="search">
          <label htmlFor={searchId}>{searchLabel}</label>
          <input
            id={searchId}
            type="search"
            value={query}
            autoComplete="off"
            onChange={(e) => {
              setQuery(e.target.value);
              onQueryChange?.(e.target.value);
            }}
          />
          <p role="status" className="muted" ref={statusRef} tabIndex={-1}>
            {listSummary(shown.length, list.items.length, more, trimmed !== '', noun)}
          </p>
        </search>
      )}
      {shown.length === 0 ? (
        <p className="empty">
          No {noun.one} matches “{query}”{more ? ' among those loaded.' : '.'}
        </p>
      ) : (
        <ul className={layout === 'cards' ? 'card-list' : 'item-list'} ref={listRef}>
          {shown.map((item) => {
            const key = keyOf(item);
            return (
              <li key={key} data-key={key}>
                {renderItem(item)}
              </li>
            );
          })}
        </ul>
      )}
      {list.stopped && <p className="error">{list.stopped}</p>}
      {error !== undefined && <CallError error={error} what={`Loading more ${noun.many}`} />}
      {more && (
        <p className="load-more">
          <button type="button" className="button-secondary" aria-disabled={loading} onClick={() => void loadMore()}>
            {loading ? `Loading more ${noun.many}…` : `Load more ${noun.many} (${list.items.length} loaded)`}
          </button>
        </p>
      )}
    </>
  );
}
