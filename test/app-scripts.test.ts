import { mkdirSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { AppProcess, startApp } from './support/app-process';
import { tempDir } from './support/trib';
import { waitUntil } from './support/wait';

/** Whether something accepts connections at `address` (host:port) right now. */
function accepts(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

// A supervisor (systemd, a container runtime, a terminal's kill) signals the process it started: `npm run
// start:<app>`. The app must stop with it, not live on orphaned and still listening.
describe('npm run start:<app>: a SIGTERM to npm stops the app', () => {
  let t: ReturnType<typeof tempDir>;
  const started: AppProcess[] = [];
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(async () => {
    for (const app of started.splice(0)) {
      await app.kill('SIGKILL');
      // An app left behind by npm is still in npm's process group: without this it would hold jest open.
      try {
        process.kill(-app.proc.pid!, 'SIGKILL');
      } catch {
        // The group is gone: nothing was left behind.
      }
    }
    t.cleanup();
  });

  it.each(['broker', 'edge-agent', 'hub'] as const)('%s', async (name) => {
    const store = path.join(t.dir, 'store');
    const inbox = path.join(t.dir, 'inbox');
    mkdirSync(inbox);
    const env = {
      TRIB_STORE: store,
      TRIB_HOME: path.join(t.dir, 'home'),
      TRIB_LISTEN: '127.0.0.1:0',
      // The agent and the hub need no broker to start: they retry until one answers.
      TRIB_BROKER: '127.0.0.1:9',
      TRIB_REGION: 'na-aws',
      TRIB_DATASET: 'heart',
      TRIB_INBOX: inbox,
      TRIB_TOPICS: 'datasets/heart/na-aws',
    };
    const app = await startApp(name, env, 20_000, { viaNpm: true });
    started.push(app);
    expect(await accepts(app.address)).toBe(true);
    // npm forwards the signal to its script, and sometimes exits by it before the app has stopped: so the app is
    // given time to stop. An app orphaned by its shell never does.
    await app.kill('SIGTERM', 60_000);
    await waitUntil(async () => !(await accepts(app.address)), `${name} to stop listening on ${app.address}`, 20_000, 100);
  });
});
