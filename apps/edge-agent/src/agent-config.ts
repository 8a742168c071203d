import { envVar, TRIB_ENV } from '@tributary/config';
import { appendTargetFormat } from '@tributary/ingest';

/** The edge agent's environment. Only TRIB_HOME and the default of TRIB_LISTEN are the agent's own. */
export const AGENT_ENV = {
  region: TRIB_ENV.region,
  dataset: TRIB_ENV.dataset,
  inbox: TRIB_ENV.inbox,
  inboxSettleMs: TRIB_ENV.inboxSettleMs,
  appendTo: envVar(TRIB_ENV.appendTo.name, TRIB_ENV.appendTo.description, (raw) => (raw === '' ? '' : (appendTargetFormat(raw), raw)), ''),
  store: TRIB_ENV.store,
  broker: TRIB_ENV.broker,
  listen: envVar(TRIB_ENV.listen.name, 'address of the status endpoint GET /health (port 0 picks a free port)', TRIB_ENV.listen.parse, '127.0.0.1:0'),
  home: TRIB_ENV.home,
  author: TRIB_ENV.author,
};
