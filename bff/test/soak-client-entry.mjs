// A worker thread gets no loader from its parent on Node 20: register tsx here, then load the client.
import { register } from 'tsx/esm/api';

register();
await import('./soak-client.ts');
