import { NavLink } from 'react-router';
import { connectionPath, logPath, promptsPath, protocolPath, resourcesPath, toolsPath } from '../urls';

/** A server's sections, on its pages and on its connection details. */
export function ServerTabs({ server }: { server: string }) {
  return (
    <nav aria-label="Server sections" className="tabs">
      <NavLink to={toolsPath(server)}>Tools</NavLink>
      <NavLink to={resourcesPath(server)}>Resources</NavLink>
      <NavLink to={promptsPath(server)}>Prompts</NavLink>
      <NavLink to={logPath(server)}>Log</NavLink>
      <NavLink to={protocolPath(server)}>Protocol</NavLink>
      <NavLink to={connectionPath(server)}>Connection</NavLink>
    </nav>
  );
}
