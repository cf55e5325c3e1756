// netwasmd as a library: the daemon, its control socket, and the client.
export { Netwasmd, NETWASMD_VERSION, type NetwasmdOptions, type Binding, type PortInfo, type JournalEntry } from './daemon.ts';
export { ControlServer, type ControlServerOptions } from './server.ts';
export { control, controlLines, socketPath, DaemonUnreachableError, type ControlOptions } from './client.ts';
export {
  ControlError,
  DEFAULT_SOCKET,
  MAX_REQUEST_BYTES,
  parseRequest,
  type ControlErrorCode,
  type ControlRequest,
  type ControlResponse,
} from './protocol.ts';
