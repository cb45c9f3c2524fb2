import type { CallToolResult } from '../calls';

type ContentItem = CallToolResult['content'][number];

function ContentView({ item }: { item: ContentItem }) {
  switch (item.type) {
    case 'text':
      return <pre className="output">{item.text}</pre>;
    case 'image':
    case 'audio':
      return <p className="muted">[{item.type}: {item.mimeType}]</p>;
    case 'resource':
      return (
        <div>
          <p className="muted">Resource {item.resource.uri}</p>
          {'text' in item.resource && typeof item.resource.text === 'string' && (
            <pre className="output">{item.resource.text}</pre>
          )}
        </div>
      );
    case 'resource_link':
      return <p className="muted">Link to resource {item.uri}</p>;
    default:
      return null;
  }
}

/** The outcome of tools/call. A result the tool marked isError is an alert. */
export function ToolResult({ result }: { result: CallToolResult }) {
  const contents = result.content.map((item, index) => (
    // Content items have no identity of their own; their order is their identity.
    // biome-ignore lint/suspicious/noArrayIndexKey: see above
    <ContentView key={index} item={item} />
  ));
  return (
    <section aria-label="Result" className="result">
      <h2>Result</h2>
      {result.isError ? (
        <div role="alert" className="result-error">
          <p>The tool reported an error.</p>
          {contents}
        </div>
      ) : contents.length > 0 ? (
        contents
      ) : (
        <p className="muted">The tool returned no content.</p>
      )}
      {result.structuredContent !== undefined && (
        <>
          <h3>Structured content</h3>
          <pre className="output">{JSON.stringify(result.structuredContent, null, 2)}</pre>
        </>
      )}
    </section>
  );
}
