import { isTribError } from '@tributary/core';
import { ConfigError, configureHeapGrowth, exitCodeOf, loadConfig, namingVariable, silenceSdkNodeVersionNotice } from '@tributary/config';
import { exitOnSignals, openStoreRepository, startStatusServer } from '@tributary/ingest';
import { layoutOfBranch } from '@tributary/hub';
import { SyncClient } from '@tributary/sync';
import { HUB_ENV } from './hub-config';
import { HubService } from './hub.service';

/**
 * The hub process, configured by environment variables only (see HUB_ENV). A plain Node process with this small
 * composition root: it serves no RPC, so Nest would add start-up time and nothing else.
 */
async function main(): Promise<void> {
  configureHeapGrowth();
  silenceSdkNodeVersionNotice();
  const cfg = loadConfig(HUB_ENV);
  const log = (line: string) => console.log(`${new Date().toISOString()} hub ${cfg.name}: ${line}`);
  const repo = await namingVariable('TRIB_STORE', cfg.store, () => openStoreRepository(cfg.store, { home: cfg.home || undefined }));
  const used = await layoutOfBranch(repo);
  if (used !== undefined && used !== cfg.layout) {
    await repo.close();
    // The other layout would read main's paths as it never laid them out: every entry would be a conflict.
    throw new ConfigError([`TRIB_HUB_LAYOUT="${cfg.layout}": main in ${cfg.store} was merged with the ${used} layout; keep ${used}, or use a new store`]);
  }
  const client = new SyncClient(cfg.broker.address);
  const hub = new HubService({ repo, client, topics: cfg.topics, name: cfg.name, layout: cfg.layout, author: cfg.author, log });
  hub.start();
  const server = await startStatusServer(cfg.listen.host, cfg.listen.port, () => hub.status());
  log(`listening on ${server.address}; following ${cfg.topics.join(', ')} from ${cfg.broker.address}, layout ${cfg.layout}, store ${cfg.store}, home ${repo.workdir}`);

  exitOnSignals(log, async () => {
    await hub.stop();
    await server.close();
    client.close();
    await repo.close();
  });
}

main().catch((e) => {
  // Configuration and known failures are one readable line; only a bug shows its stack.
  console.error(e instanceof ConfigError || isTribError(e) ? `hub: ${e.message}` : e);
  process.exit(exitCodeOf(e));
});
