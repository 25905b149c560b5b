import type { SshEndpoint, SshOptions } from '../transport/ssh.js';
import { LocalFileSide } from './local.js';
import { sshEndpointOf, type FileSide, type HostLocation } from './side.js';
import { SshFileSide } from './ssh.js';

/** The FileSide for a parsed location: this machine, or its ssh host with the run's ssh options. */
export function openFileSide(location: HostLocation, sshOptions?: SshOptions): FileSide {
  return openFileSideAt(sshEndpointOf(location), sshOptions);
}

/** The FileSide of an ssh endpoint (an rsync endpoint's `ssh`), or of this machine when there is none. */
export function openFileSideAt(ssh: SshEndpoint | undefined, sshOptions?: SshOptions): FileSide {
  return ssh ? new SshFileSide(ssh, sshOptions) : new LocalFileSide();
}
