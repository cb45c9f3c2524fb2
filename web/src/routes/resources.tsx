/**
 * `/servers/:server/resources`: the server's resources, and its resource templates with a form for
 * their parameters; each list page by page as the server gives it.
 */
import { UriTemplate } from '@modelcontextprotocol/client';
import { useId, useMemo, useState } from 'react';
import { Link, type LoaderFunctionArgs, useLoaderData, useNavigate } from 'react-router';
import { getListPages, type Resource, type ResourceTemplate } from '../calls';
import { BffError } from '../bff';
import { ArgumentsForm } from '../components/ArgumentsForm';
import { useCompleter } from '../components/CompletionInput';
import { PagedList } from '../components/PagedList';
import { SectionErrorBoundary } from '../components/RouteError';
import { stringFields } from '../schemaForm';
import { emptyList } from '../listPages';
import { resourcePath } from '../urls';
import { loadConnection, rethrowForServer } from './session';

/**
 * Each list on its own: a server that answers one of them with an error (say it has resources but no
 * `resources/templates/list`) still shows the other. A session problem fails the page as before.
 */
export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  const [resources, templates] = await Promise.allSettled([
    getListPages(connection.server, 'resources'),
    getListPages(connection.server, 'resourceTemplates'),
  ]);
  for (const outcome of [resources, templates]) {
    if (outcome.status === 'rejected' && outcome.reason instanceof BffError) rethrowForServer(connection)(outcome.reason);
  }
  if (resources.status === 'rejected' && templates.status === 'rejected') rethrowForServer(connection)(resources.reason);
  return {
    server: connection.server,
    resources: resources.status === 'fulfilled' ? resources.value : emptyList('resources'),
    resourcesError: resources.status === 'rejected' ? listError(resources.reason) : undefined,
    templates: templates.status === 'fulfilled' ? templates.value : emptyList('resourceTemplates'),
    templatesError: templates.status === 'rejected' ? listError(templates.reason) : undefined,
  };
}

function listError(error: unknown): string {
  return error instanceof Error ? error.message : 'The server could not list these.';
}

function matchesResource(resource: Resource, query: string): boolean {
  const q = query.toLowerCase();
  return [resource.uri, resource.name, resource.title, resource.description, resource.mimeType].some((text) => text?.toLowerCase().includes(q));
}

function matchesTemplate(template: ResourceTemplate, query: string): boolean {
  const q = query.toLowerCase();
  return [template.uriTemplate, template.name, template.title, template.description].some((text) => text?.toLowerCase().includes(q));
}

export function Component() {
  const { server, resources, resourcesError, templates, templatesError } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Resources</h1>
      <section aria-labelledby="resources-heading">
        <h2 id="resources-heading">Resources</h2>
        {resourcesError ? (
          <p role="alert" className="error">
            The server could not list its resources: {resourcesError}
          </p>
        ) : (
          <PagedList
            key={server}
            server={server}
            initial={resources}
            noun={{ one: 'resource', many: 'resources' }}
            searchLabel="Search resources"
            emptyText="This server lists no resources."
            matches={matchesResource}
            renderItem={(resource) => (
              <>
                <Link to={resourcePath(server, resource.uri)} className="item-name">
                  {resource.title ?? resource.name}
                </Link>{' '}
                <code className="muted uri">{resource.uri}</code>
                {resource.mimeType && <span className="muted"> · {resource.mimeType}</span>}
                {resource.description && <p className="muted item-description">{resource.description}</p>}
              </>
            )}
          />
        )}
      </section>
      <section aria-labelledby="templates-heading">
        <h2 id="templates-heading">Resource templates</h2>
        {templatesError ? (
          <p role="alert" className="error">
            The server could not list its resource templates: {templatesError}
          </p>
        ) : (
          <PagedList
            key={server}
            server={server}
            initial={templates}
            noun={{ one: 'resource template', many: 'resource templates' }}
            searchLabel="Search resource templates"
            emptyText="This server has no resource templates."
            matches={matchesTemplate}
            layout="cards"
            renderItem={(template) => <TemplateForm server={server} template={template} />}
          />
        )}
      </section>
    </>
  );
}

/** A template's variables as a form; reading expands the template and opens that resource. */
function TemplateForm({ server, template }: { server: string; template: ResourceTemplate }) {
  const headingId = useId();
  const navigate = useNavigate();
  const [error, setError] = useState<string>();
  const completer = useCompleter(server, { type: 'ref/resource', uri: template.uriTemplate });
  const parsed = useMemo(() => {
    try {
      return new UriTemplate(template.uriTemplate);
    } catch {
      return undefined;
    }
  }, [template.uriTemplate]);
  const fields = useMemo(
    () => stringFields((parsed?.variableNames ?? []).map((name) => ({ name, required: true }))),
    [parsed],
  );
  return (
    <section className="card template" aria-labelledby={headingId}>
      <h3 id={headingId}>{template.title ?? template.name}</h3>
      <p>
        <code className="uri">{template.uriTemplate}</code>
        {template.mimeType && <span className="muted"> · {template.mimeType}</span>}
      </p>
      {template.description && <p className="muted">{template.description}</p>}
      {parsed ? (
        <ArgumentsForm
          className="inline-form"
          fields={fields}
          submitLabel="Read"
          emptyText="This template has no parameters."
          completer={completer}
          onSubmit={(args) => {
            try {
              navigate(resourcePath(server, parsed.expand(args as Record<string, string>)));
            } catch {
              setError('These values do not make a valid URI for this template.');
            }
          }}
        />
      ) : (
        <p className="error">This URI template cannot be read.</p>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}

export const ErrorBoundary = SectionErrorBoundary;
