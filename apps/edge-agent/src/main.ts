import { isTribError } from '@tributary/core';
import { ConfigError, configureHeapGrowth, exitCodeOf, loadConfig, namingVariable, silenceSdkNodeVersionNotice } from '@tributary/config';
import { checkInboxApart, exitOnSignals, openStoreRepository, startStatusServer } from '@tributary/ingest';
import { SyncClient } from '@tributary/sync';
import { AGENT_ENV } from './agent-config';
import { EdgeAgent } from './edge-agent';

/**
 * The edge agent process, configured by environment variables only (see AGENT_ENV). A plain Node process with this
 * small composition root: it serves no RPC, so Nest would add start-up time and nothing else.
 */
async function main(): Promise<void> {
  configureHeapGrowth();
  silenceSdkNodeVersionNotice();
  const cfg = loadConfig(AGENT_ENV);
  const prefix = `edge-agent ${cfg.region}:`;
  const log = (line: string) => console.log(`${new Date().toISOString()} ${prefix} ${line}`);
  checkInboxApart(cfg.inbox, cfg.store, cfg.home || undefined);
  const repo = await namingVariable('TRIB_STORE', cfg.store, () => openStoreRepository(cfg.store, { home: cfg.home || undefined }));
  const client = new SyncClient(cfg.broker.address);
  const agent = new EdgeAgent({ repo, client, region: cfg.region, dataset: cfg.dataset, inbox: cfg.inbox, settleMs: cfg.inboxSettleMs, appendTo: cfg.appendTo, author: cfg.author, log });
  await agent.start();
  const server = await startStatusServer(cfg.listen.host, cfg.listen.port, () => agent.status());
  log(`listening on ${server.address}; watching ${cfg.inbox}, publishing ${agent.topic} to ${cfg.broker.address}, store ${cfg.store}, home ${repo.workdir}`);

  exitOnSignals(log, async () => {
    await agent.stop();
    await server.close();
    client.close();
    await repo.close();
  });
}

main().catch((e) => {
  // Configuration and known failures are one readable line; only a bug shows its stack.
  console.error(e instanceof ConfigError || isTribError(e) ? `edge-agent: ${e.message}` : e);
  process.exit(exitCodeOf(e));
});
