/**
 * A text input that offers the server's suggestions (`completion/complete`) as the person types: an
 * ARIA 1.2 combobox with a listbox popup (list autocomplete, nothing filled in automatically).
 *
 * Keyboard: typing asks after a short pause; Down Arrow opens the list (asking at once if nothing
 * has been asked yet) and moves down, Up Arrow moves up, Enter takes the highlighted suggestion
 * (with none highlighted it submits the form as usual), Escape closes the list, Tab leaves it. The
 * input keeps the focus throughout; the highlighted option is aria-activedescendant. How many
 * suggestions there are is announced politely; a failure is a quiet note that blocks nothing.
 *
 * Forms opt in with <CompletionProvider> (ArgumentsForm does, given a completer); SchemaField asks
 * useFieldCompletion whether a field has suggestions. Only top-level text fields do: prompt
 * arguments and template variables are flat strings.
 */
import { createContext, type InputHTMLAttributes, type KeyboardEvent, type ReactNode, useContext, useEffect, useMemo, useRef, useState } from 'react';
import {
  type Completer,
  type CompletionRef,
  type CompletionRequest,
  CompletionQuery,
  type CompletionState,
  completerFor,
  declaresCompletionsNow,
  moreThan,
  offersCompletions,
  siblingArguments,
} from '../completions';
import type { Path } from '../schemaForm';

/** Suggestions shown at once; the rest are counted ("N more"), and typing narrows them. */
export const MAX_SHOWN = 10;

interface FormCompletion {
  completer: Completer;
  /** The form's current top-level values, for `context.arguments`. */
  values: Readonly<Record<string, unknown>>;
}

const CompletionContext = createContext<FormCompletion | undefined>(undefined);

/** Gives the fields inside it suggestions from `completer` (none when it is undefined). */
export function CompletionProvider({
  completer,
  values,
  children,
}: {
  completer: Completer | undefined;
  values: Readonly<Record<string, unknown>>;
  children: ReactNode;
}) {
  const value = useMemo(() => (completer ? { completer, values } : undefined), [completer, values]);
  return <CompletionContext.Provider value={value}>{children}</CompletionContext.Provider>;
}

export interface FieldCompletion {
  completer: Completer;
  argument: string;
  /** The other arguments filled in so far, read when a request is made. */
  siblings: () => Record<string, string> | undefined;
}

/** Suggestions for the field at `path`, if its form offers them and it is a top-level field. */
export function useFieldCompletion(path: Path): FieldCompletion | undefined {
  const form = useContext(CompletionContext);
  const [argument] = path;
  if (!form || path.length !== 1 || typeof argument !== 'string') return undefined;
  return { completer: form.completer, argument, siblings: () => siblingArguments(form.values, argument) };
}

/**
 * A completer for one prompt or resource template, once the server is known to declare the
 * `completions` capability; undefined until then, and for good when it does not (nothing is ever
 * asked of it).
 */
export function useCompleter(server: string, ref: CompletionRef): Completer | undefined {
  const key = JSON.stringify([server, ref]);
  // Known at once when the page's loader has connected (it has): the form is drawn with the right
  // inputs from the start, instead of swapping them (and losing the focus) a moment later.
  const now = useMemo(() => {
    const [forServer, forRef] = JSON.parse(key) as [string, CompletionRef];
    const declared = declaresCompletionsNow(forServer);
    return declared === undefined ? undefined : { key, completer: declared ? completerFor(forServer, forRef) : undefined };
  }, [key]);
  const [found, setFound] = useState<{ key: string; completer: Completer | undefined }>();
  useEffect(() => {
    let live = true;
    const [forServer, forRef] = JSON.parse(key) as [string, CompletionRef];
    offersCompletions(forServer).then(
      (offered) => {
        if (!live) return;
        setFound((previous) => {
          const known = previous?.key === key ? previous : now;
          // Unchanged: the same completer, so nothing in the form starts over.
          if (known && (known.completer !== undefined) === offered) return known;
          return { key, completer: offered ? completerFor(forServer, forRef) : undefined };
        });
      },
      // No capabilities to read (the connection failed): no suggestions; the page says why elsewhere.
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [key, now]);
  return (found?.key === key ? found : now)?.completer;
}

interface Props extends Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange' | 'id' | 'role'> {
  id: string;
  value: string;
  onValueChange: (value: string) => void;
  field: FieldCompletion;
}

export function CompletionInput({ id, value, onValueChange, field, ...inputProps }: Props) {
  const listId = `${id}-suggestions`;
  const [state, setState] = useState<CompletionState>({ status: 'idle' });
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const focused = useRef(false);
  /** The next answer was asked for with Down Arrow: its first suggestion comes highlighted. */
  const highlightFirst = useRef(false);
  const listRef = useRef<HTMLDivElement>(null);
  const { completer } = field;
  const query = useMemo(
    () =>
      new CompletionQuery(completer, (next) => {
        // While the next answer is on its way the last one stays up: no flicker at every keystroke.
        if (next.status === 'loading') return;
        setState(next);
        if (next.status === 'done') {
          setActive(highlightFirst.current ? 0 : -1);
          highlightFirst.current = false;
          // Only what would change the value is worth a popup: not the very text already typed.
          setOpen(focused.current && next.suggestions.values.some((suggestion) => suggestion !== next.value));
        }
      }),
    [completer],
  );
  useEffect(() => () => query.stop(), [query]);

  const suggestions = state.status === 'done' ? state.suggestions : undefined;
  const shown = suggestions?.values.slice(0, MAX_SHOWN) ?? [];
  const more = suggestions ? moreThan(suggestions, shown.length) : 0;
  const expanded = open && shown.length > 0;

  useEffect(() => {
    if (active < 0) return;
    listRef.current?.children[active]?.scrollIntoView({ block: 'nearest' });
  }, [active]);

  function request(text: string): CompletionRequest {
    const siblings = field.siblings();
    return { argument: { name: field.argument, value: text }, ...(siblings ? { context: { arguments: siblings } } : {}) };
  }

  function close() {
    setOpen(false);
    setActive(-1);
  }

  function choose(chosen: string) {
    query.stop();
    onValueChange(chosen);
    setState({ status: 'idle' });
    close();
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    switch (event.key) {
      case 'ArrowDown': {
        event.preventDefault();
        if (expanded) {
          if (!event.altKey) setActive((current) => (current + 1) % shown.length);
        } else if (suggestions && state.status === 'done' && state.value === value && shown.length > 0) {
          setOpen(true);
          if (!event.altKey) setActive(0);
        } else {
          highlightFirst.current = !event.altKey;
          query.now(request(value));
        }
        break;
      }
      case 'ArrowUp':
        if (!expanded) return;
        event.preventDefault();
        setActive((current) => (current <= 0 ? shown.length - 1 : current - 1));
        break;
      case 'Enter':
        if (!expanded || active < 0) return;
        event.preventDefault();
        choose(shown[active] ?? value);
        break;
      case 'Escape':
        if (!expanded && !query.busy) return;
        // Closing the list is all Escape does here; it must not also close a dialog around the form.
        event.preventDefault();
        event.stopPropagation();
        query.stop();
        close();
        break;
      case 'Tab':
        close();
        break;
    }
  }

  const announcement = expanded
    ? `${shown.length === 1 ? '1 suggestion' : `${shown.length} suggestions`}${more === 0 ? '' : more === 'some' ? ', and more' : `, ${more} more`}.`
    : '';

  return (
    <div className="completion">
      <input
        {...inputProps}
        id={id}
        type="text"
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-activedescendant={expanded && active >= 0 ? `${listId}-${active}` : undefined}
        autoComplete="off"
        value={value}
        onChange={(event) => {
          onValueChange(event.target.value);
          highlightFirst.current = false;
          setActive(-1);
          query.typed(request(event.target.value));
        }}
        onKeyDown={onKeyDown}
        onFocus={() => {
          focused.current = true;
        }}
        onBlur={() => {
          focused.current = false;
          query.stop();
          close();
        }}
      />
      {/* Always in the page, so aria-controls names an element; hidden while closed. */}
      <div className="completion-popup" hidden={!expanded}>
        <div ref={listRef} id={listId} role="listbox" aria-label={`Suggestions for ${field.argument}`} className="completion-list">
          {shown.map((suggestion, index) => (
            // The keyboard works through the combobox, which keeps the focus (aria-activedescendant): options
            // are never focused, by design of the pattern.
            // biome-ignore lint/a11y/useFocusableInteractive: see above
            // biome-ignore lint/a11y/useKeyWithClickEvents: see above
            <div
              key={suggestion}
              id={`${listId}-${index}`}
              role="option"
              aria-selected={index === active}
              className={index === active ? 'completion-option completion-option-active' : 'completion-option'}
              // Keeps the focus in the input, so choosing with the mouse does not blur (and close) first.
              onMouseDown={(event) => event.preventDefault()}
              onClick={() => choose(suggestion)}
            >
              {suggestion}
            </div>
          ))}
        </div>
        {more !== 0 && (
          <p className="completion-more">
            {more === 'some' ? 'More suggestions' : `${more} more`}: keep typing to narrow them down.
          </p>
        )}
      </div>
      <p role="status" className="visually-hidden">
        {announcement}
      </p>
      {state.status === 'failed' && <p className="hint completion-note">No suggestions: {state.message}</p>}
    </div>
  );
}
