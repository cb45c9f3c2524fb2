import type { ContentBlock } from '@modelcontextprotocol/client';
import { useEffect, useMemo, useState } from 'react';
import { Link } from 'react-router';
import { downloadName, downloadType } from '../download';
import { resourcePath } from '../urls';

/** Text longer than this is shown folded, with "Show all" and a download. */
export const TEXT_PREVIEW_CHARS = 20_000;

/** Who a piece of content is for and how much it matters, as the server annotated it. */
function Annotations({ item }: { item: ContentBlock }) {
  const annotations = (item as { annotations?: { audience?: unknown; priority?: unknown } }).annotations;
  if (!annotations) return null;
  const audience = Array.isArray(annotations.audience) ? annotations.audience.filter((a): a is string => typeof a === 'string') : [];
  const priority = typeof annotations.priority === 'number' ? annotations.priority : undefined;
  if (audience.length === 0 && priority === undefined) return null;
  return (
    <ul className="badges" aria-label="Annotations">
      {audience.length > 0 && <li className="badge">For {audience.join(' and ')}</li>}
      {priority !== undefined && <li className="badge">Priority {priority}</li>}
    </ul>
  );
}

/**
 * Text, folded when long (a huge result would make the page crawl), always downloadable as a file;
 * the download is never typed as something a browser would run (see download.ts).
 */
export function TextView({ text, name, mimeType = 'text/plain' }: { text: string; name: string; mimeType?: string | undefined }) {
  const [showAll, setShowAll] = useState(false);
  const [href, setHref] = useState<string>();
  const fileName = downloadName(name, mimeType);
  const long = text.length > TEXT_PREVIEW_CHARS;
  useEffect(() => {
    const url = URL.createObjectURL(new Blob([text], { type: downloadType(mimeType) }));
    setHref(url);
    return () => URL.revokeObjectURL(url);
  }, [text, mimeType]);
  return (
    <div className="text-result">
      <pre className="output">{long && !showAll ? `${text.slice(0, TEXT_PREVIEW_CHARS)}…` : text}</pre>
      <p className="muted">
        {long && (
          <>
            Showing {showAll ? 'all' : `the first ${TEXT_PREVIEW_CHARS.toLocaleString('en')} of ${text.length.toLocaleString('en')}`} characters.{' '}
            <button type="button" className="button-small button-secondary" onClick={() => setShowAll(!showAll)}>
              {showAll ? 'Show less' : 'Show all'}
            </button>{' '}
          </>
        )}
        {href && (
          <a href={href} download={fileName}>
            Download {fileName}
          </a>
        )}
      </p>
    </div>
  );
}

/** One piece of content, as tools, prompts and embedded resources return it. */
export function ContentView({ server, item, index }: { server: string; item: ContentBlock; index: number }) {
  return (
    <>
      <Annotations item={item} />
      <ContentBody server={server} item={item} index={index} />
    </>
  );
}

function ContentBody({ server, item, index }: { server: string; item: ContentBlock; index: number }) {
  switch (item.type) {
    case 'text':
      return <TextView text={item.text} name={`result-${index + 1}`} />;
    case 'image':
      return <ImageView base64={item.data} mimeType={item.mimeType} label={`Image ${index + 1}`} />;
    case 'audio':
      return (
        <div className="content-box">
          <p className="muted">Audio ({item.mimeType})</p>
          <BinaryView base64={item.data} mimeType={item.mimeType} name={`audio-${index + 1}`} />
        </div>
      );
    case 'resource': {
      const { resource } = item;
      return (
        <div className="content-box">
          <p className="content-label">
            Embedded resource <code>{resource.uri}</code>
            {resource.mimeType && <span className="muted"> ({resource.mimeType})</span>}
          </p>
          {'text' in resource && typeof resource.text === 'string' ? (
            <TextView text={resource.text} name={fileNameOf(resource.uri)} mimeType={resource.mimeType} />
          ) : 'blob' in resource && typeof resource.blob === 'string' ? (
            <BinaryView base64={resource.blob} mimeType={resource.mimeType} name={fileNameOf(resource.uri)} />
          ) : null}
        </div>
      );
    }
    case 'resource_link':
      return (
        <p className="content-box">
          Link to a resource:{' '}
          <Link to={resourcePath(server, item.uri)}>{item.title ?? item.name}</Link> <code className="muted">{item.uri}</code>
          {item.description && <span className="muted"> — {item.description}</span>}
        </p>
      );
    default:
      return <p className="muted">Content of a kind this page cannot show.</p>;
  }
}

export function ContentList({ server, items }: { server: string; items: readonly ContentBlock[] }) {
  return (
    <>
      {items.map((item, index) => (
        // Content items have no identity of their own; their order is their identity.
        // biome-ignore lint/suspicious/noArrayIndexKey: see above
        <ContentView key={index} server={server} item={item} index={index} />
      ))}
    </>
  );
}

function decodeBase64(base64: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function fileNameOf(uri: string): string {
  const last = uri.split(/[/:]/).filter(Boolean).pop();
  return last && last.length <= 100 ? last : 'download';
}

/** Raster and vector images are shown; an <img> never runs a script, even from SVG. */
function ImageView({ base64, mimeType, label }: { base64: string; mimeType: string; label: string }) {
  if (!/^image\/[a-z0-9.+-]+$/i.test(mimeType)) return <p className="error">{label}: not an image type ({mimeType}).</p>;
  return (
    <figure className="image-result">
      <img src={`data:${mimeType};base64,${base64}`} alt={`${label} (${mimeType})`} />
      <figcaption className="muted">
        {label}, {mimeType}
      </figcaption>
    </figure>
  );
}

/**
 * Binary content: its size, a preview when it is an image, and a download link. The download is typed
 * application/octet-stream unless it is a raster image (see download.ts): never what the server chose.
 */
export function BinaryView({ base64, mimeType, name }: { base64: string; mimeType?: string | undefined; name: string }) {
  const bytes = useMemo(() => decodeBase64(base64), [base64]);
  const [href, setHref] = useState<string>();
  const fileName = downloadName(name, mimeType);
  useEffect(() => {
    if (!bytes) return;
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: downloadType(mimeType) }));
    setHref(url);
    return () => URL.revokeObjectURL(url);
  }, [bytes, mimeType]);
  if (!bytes) return <p className="error">The binary content is not valid base64.</p>;
  return (
    <div className="binary">
      {mimeType?.startsWith('image/') && <ImageView base64={base64} mimeType={mimeType} label={name} />}
      <p>
        Binary, {formatBytes(bytes.length)}
        {mimeType && `, ${mimeType}`}.{' '}
        {href && (
          <a href={href} download={fileName}>
            Download {fileName}
          </a>
        )}
      </p>
    </div>
  );
}
