import type { CallToolResult, Tool } from '../calls';
import { ContentList } from './Content';

/** The outcome of tools/call. A result the tool marked isError is an alert. */
export function ToolResult({ server, tool, result }: { server: string; tool: Tool; result: CallToolResult }) {
  const contents = <ContentList server={server} items={result.content} />;
  return (
    <section aria-labelledby="result-heading" className="result">
      <h2 id="result-heading">Result</h2>
      {result.isError ? (
        <div role="alert" className="result-error">
          <p>The tool reported an error.</p>
          {contents}
        </div>
      ) : result.content.length > 0 ? (
        contents
      ) : (
        <p className="muted">The tool returned no content.</p>
      )}
      {result.structuredContent !== undefined && (
        <section aria-labelledby="structured-heading">
          <h3 id="structured-heading">Structured content</h3>
          {tool.outputSchema && <p className="muted">Checked against the tool's output schema.</p>}
          <pre className="output">{JSON.stringify(result.structuredContent, null, 2)}</pre>
        </section>
      )}
    </section>
  );
}
