/**
 * Preloaded (node --import) into the reference MCP server, whose CLI listens on every interface:
 * a listen() given only a port listens on the loopback interface instead, so the tests open no port
 * to the network.
 */
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const portOnly = typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]));
  if (portOnly && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
  return listen.apply(this, args);
};
